"""Idempotent API writes: a retried call with the same Idempotency-Key gets the first answer, never a second write."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from sync_core.adapters.aws import dynamodb_client
from sync_core.config import get_settings
from sync_core.errors import AlreadyExistsError, RetryableError, ValidationFailedError

# Keys are kept a day: long enough for any client's retry policy, short enough to keep the table small.
KEY_LIFETIME_SECONDS = 24 * 3600
MAX_KEY_LENGTH = 255


@cache
def idempotency_persistence() -> DynamoDBPersistenceLayer:
    """The persistence layer, built once per container (tests clear it with cache_clear())."""
    return DynamoDBPersistenceLayer(
        table_name=get_settings().require("IDEMPOTENCY_TABLE"), boto3_client=dynamodb_client()
    )


def run_idempotently(
    operation: Callable[[], dict[str, Any]],
    *,
    idempotency_key: str | None,
    scope: str,
    caller: str,
    request_payload: Any,
    context: LambdaContext | None,
) -> dict[str, Any]:
    """Run `operation` once per (scope, caller, key); replays return its stored (JSON) result.

    The same key with a different payload is refused (422) rather than answered with the first result,
    and a replay while the first call still runs is a 409 so the client retries later. A call that raised
    leaves no key behind (Powertools deletes it), so its retry runs again; when the key table itself cannot be
    read or written, the call is a 503 (RetryableError) rather than a 500.
    """
    if idempotency_key is None:
        return operation()
    if not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
        raise ValidationFailedError(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters", field="Idempotency-Key")
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        expires_after_seconds=KEY_LIFETIME_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    if context is not None:
        config.register_lambda_context(context)

    # The function name is part of Powertools' stored key, so scope it by operation.
    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request",
        config=config,
        persistence_store=idempotency_persistence(),
        key_prefix=f"api#{scope}",
    )
    def _run(request: dict[str, Any]) -> dict[str, Any]:
        return operation()

    caller_digest = hashlib.sha256(caller.encode()).hexdigest()[:16]
    try:
        result: dict[str, Any] = _run(request={"key": f"{caller_digest}#{idempotency_key}", "payload": request_payload})
    except IdempotencyValidationError as exc:
        raise ValidationFailedError(
            "Idempotency-Key was already used with a different request", field="Idempotency-Key"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise AlreadyExistsError("a request with this Idempotency-Key is still in progress; retry shortly") from exc
    except IdempotencyPersistenceLayerError as exc:
        cause = exc.__cause__
        if isinstance(cause, RetryableError):
            raise cause from exc
        raise RetryableError(
            "the Idempotency-Key store is unavailable; retry shortly", code="IdempotencyStore"
        ) from exc
    return result
