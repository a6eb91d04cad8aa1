"""The Salesforce adapter against the local emulator over HTTPS, with Secrets Manager and DynamoDB from moto."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
import requests.adapters
from aws_lambda_powertools.utilities import parameters
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sync_core.adapters.salesforce import SalesforceClient, build_salesforce_client, clear_salesforce_caches
from sync_core.config import get_settings
from sync_core.ports.stores import Clock
from tests.support.aws_stack import hub_aws_environment

CLIENT_ID = "hub-contract-client"
CLIENT_SECRET = "hub-contract-secret"
USERNAME = "integration@hub.example.com"
PASSWORD = "correct-horse"
SECURITY_TOKEN = "battery-staple"
JWT_AUDIENCE = "https://login.salesforce.com"
HUB_CLIENT_ID = "SyncHubContract"


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


@pytest.fixture(scope="session")
def key_pair() -> KeyPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem, public_pem)


class Controls:
    """The emulator's unauthenticated /__emulator controls."""

    def __init__(self, emulator: Any) -> None:
        self.url = emulator.url.rstrip("/") + "/__emulator"
        self.verify = emulator.ca_path

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, self.url + path, json=body, verify=self.verify, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def counters(self) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", "/counters")
        return result

    def reset_counters(self) -> None:
        self._send("DELETE", "/counters")

    def fault(self, **rule: Any) -> None:
        self._send("POST", "/faults", rule)

    def clear_faults(self) -> None:
        self._send("DELETE", "/faults")

    def limits(self, *, maximum: int | None = None, used: int | None = None, seconds_ago: float = 0.0) -> None:
        """The org's allocation and/or usage: `used` calls made `seconds_ago` on the org's clock."""
        body: dict[str, Any] = {"seconds_ago": seconds_ago}
        body |= {key: value for key, value in {"max": maximum, "used": used}.items() if value is not None}
        self._send("POST", "/limits", body)

    def configure(self, **options: Any) -> dict[str, Any]:
        """Runtime options of the emulated org (e.g. collections_unknown_field="row")."""
        result: dict[str, Any] = self._send("POST", "/config", options)
        return result

    def advance_clock(self, seconds: float) -> None:
        """Move the org's clock (its rolling API usage window and Bulk job processing follow it)."""
        self._send("POST", "/clock", {"advance_seconds": seconds})

    def expire_sessions(self) -> None:
        self._send("POST", "/sessions/expire")


class Transport:
    """Faults the emulator cannot inject (broken connections, TLS errors, timeouts), applied where requests meets the
    network. Error answers, a failed Composite subrequest and failed Bulk results downloads are emulator fault rules
    (`Controls.fault`, see docs/salesforce-emulator.md)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._rules: list[tuple[Callable[[requests.PreparedRequest], bool], Callable[..., Any], list[int]]] = []
        original = requests.adapters.HTTPAdapter.send

        def send(adapter: Any, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            for matches, act, left in self._rules:
                if left[0] > 0 and matches(request):
                    left[0] -= 1
                    return act(lambda: original(adapter, request, **kwargs))  # type: ignore[no-any-return]
            return original(adapter, request, **kwargs)

        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)

    def fail(self, matches: Callable[[requests.PreparedRequest], bool], error: Exception, *, count: int = 1) -> None:
        """Raise `error` instead of sending a matching request."""

        def act(_send: Callable[[], requests.Response]) -> requests.Response:
            raise error

        self._rules.append((matches, act, [count]))


def path_is(method: str, suffix: str) -> Callable[[requests.PreparedRequest], bool]:
    return lambda request: request.method == method and urlsplit(str(request.url)).path.endswith(suffix)


@pytest.fixture
def transport(monkeypatch: pytest.MonkeyPatch) -> Transport:
    return Transport(monkeypatch)


@pytest.fixture
def emulator(key_pair: KeyPair, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh emulator; `@pytest.mark.parametrize("emulator", [{option: value}], indirect=True)` sets options."""
    from local.sf_emulator import EmulatorConfig, start_emulator

    options: dict[str, Any] = getattr(request, "param", {})
    emu = start_emulator(
        EmulatorConfig(
            port=0,
            daily_api_limit=100_000,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            username=USERNAME,
            password=PASSWORD,
            security_token=SECURITY_TOKEN,
            jwt_public_key_pem=key_pair.public_pem,
            default_query_batch_size=200,  # small pages, so paging is exercised with a few hundred rows
            # an external id several records may share; the test's options may replace it
            **{"non_unique_external_ids": ["Account.Legacy_Key__c"], **options},
        )
    )
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def controls(emulator: Any) -> Controls:
    return Controls(emulator)


def secret_for(flow: str, emulator: Any, key_pair: KeyPair) -> dict[str, str]:
    common = {"auth_flow": flow, "login_url": emulator.url.rstrip("/"), "client_id": CLIENT_ID, "api_version": "60.0"}
    match flow:
        case "jwt_bearer":
            return {**common, "username": USERNAME, "private_key_pem": key_pair.private_pem, "audience": JWT_AUDIENCE}
        case "client_credentials":
            return {**common, "client_secret": CLIENT_SECRET}
        case "password":
            return {
                **common,
                "client_secret": CLIENT_SECRET,
                "username": USERNAME,
                "password": PASSWORD,
                "security_token": SECURITY_TOKEN,
            }
    raise ValueError(flow)


@pytest.fixture
def aws() -> Iterator[dict[str, str]]:
    with hub_aws_environment("salesforce-contract") as environment:
        yield environment


type ClientFactory = Callable[..., SalesforceClient]


@pytest.fixture
def make_client(
    aws: dict[str, str], emulator: Any, key_pair: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ClientFactory]:
    """A client built from Settings exactly as a function builds it; keyword arguments become environment."""
    secrets = boto3.client("secretsmanager")
    created: dict[str, str] = {}

    def make(
        flow: str = "password", secret: dict[str, Any] | None = None, clock: Clock | None = None, **env: Any
    ) -> SalesforceClient:
        name = f"salesforce-{flow}-{len(created)}"
        arn = secrets.create_secret(Name=name, SecretString=json.dumps(secret or secret_for(flow, emulator, key_pair)))[
            "ARN"
        ]
        created[name] = arn
        monkeypatch.setenv("SALESFORCE_SECRET_ARN", arn)
        monkeypatch.setenv("SALESFORCE_CA_BUNDLE", emulator.ca_path)
        monkeypatch.setenv("HUB_CLIENT_ID", HUB_CLIENT_ID)
        for key, value in env.items():
            monkeypatch.setenv(key.upper(), str(value))
        get_settings.cache_clear()
        return build_salesforce_client(get_settings(), clock=clock)

    parameters.clear_caches()
    clear_salesforce_caches()
    yield make
    parameters.clear_caches()
    clear_salesforce_caches()
    os.environ.pop("SALESFORCE_SECRET_ARN", None)
