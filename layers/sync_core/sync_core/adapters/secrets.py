"""A Secrets Manager secret read once per container and again after a few minutes (a rotation takes effect)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from sync_core.errors import RetryableError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CACHE_SECONDS = 300


class SecretsManagerValue:
    """The secret's string; a JSON object's `token` when it holds one (a secret made by the console's wizard)."""

    def __init__(self, client: SecretsManagerClient, *, secret_id: str, max_age: float = CACHE_SECONDS) -> None:
        self._client = client
        self._secret_id = secret_id
        self._max_age = max_age
        self._held: tuple[float, str] | None = None

    def value(self) -> str:
        now = time.monotonic()
        if self._held is None or now - self._held[0] > self._max_age:
            try:
                text = self._client.get_secret_value(SecretId=self._secret_id)["SecretString"]
            except (ClientError, BotoCoreError) as exc:
                raise RetryableError(f"the secret {self._secret_id} cannot be read: {exc}") from exc
            self._held = (now, _token(text))
        return self._held[1]


def _token(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            return stripped
        if isinstance(document, dict) and isinstance(document.get("token"), str):
            return str(document["token"]).strip()
    return stripped
