"""One emulator per xdist worker (port 0), reset before every test; helpers for plain HTTP calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from simple_salesforce import Salesforce

from local.sf_emulator import EmulatorConfig, RunningEmulator, start_emulator

API = "v60.0"


def session_for(emu: RunningEmulator, token: str | None = None) -> requests.Session:
    """A requests session trusting the emulator's CA.

    trust_env=False: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify.
    """
    http = requests.Session()
    http.verify = emu.ca_path
    http.trust_env = False
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


@pytest.fixture(scope="session")
def emu() -> Iterator[RunningEmulator]:
    emulator = start_emulator(EmulatorConfig(port=0))
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def _fresh_org(request: pytest.FixtureRequest) -> None:
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").reset()


@pytest.fixture
def token(emu: RunningEmulator) -> str:
    return emu.issue_token()


@pytest.fixture
def http(emu: RunningEmulator, token: str) -> requests.Session:
    return session_for(emu, token)


@pytest.fixture
def data_url(emu: RunningEmulator) -> str:
    return f"{emu.url}/services/data/{API}"


@pytest.fixture
def sf(emu: RunningEmulator, token: str) -> Salesforce:
    return Salesforce(instance_url=emu.url, session_id=token, session=session_for(emu), version=API[1:])
