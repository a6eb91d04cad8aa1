"""JWT bearer assertions, the state file, standalone start, user changes and the clock."""

from __future__ import annotations

import subprocess
import sys
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from local.sf_emulator import EmulatorConfig, start_emulator
from tests.emulator.conftest import API, session_for

pytestmark = pytest.mark.emulator


def _assertion(key, **overrides):
    claims = {
        "iss": "hub-client",
        "sub": "hub@example.com",
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256")


def test_jwt_bearer_verified_with_public_key(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with start_emulator(EmulatorConfig(port=0, jwt_public_key_pem=public)) as emu:
        http = session_for(emu)

        def token(assertion):
            return http.post(
                f"{emu.url}/services/oauth2/token",
                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
            )

        good = token(_assertion(key))
        assert good.status_code == 200 and good.json()["instance_url"] == emu.url
        assert token(_assertion(key, aud=emu.url)).status_code == 200
        cases = [
            (_assertion(other), "invalid_grant", "invalid assertion"),
            (_assertion(key, exp=int(time.time()) - 10), "invalid_grant", "invalid assertion"),
            (_assertion(key, iss="someone"), "invalid_client_id", "client identifier invalid"),
            (_assertion(key, aud="https://elsewhere.example"), "invalid_grant", "audience is invalid"),
            (_assertion(key, sub="nobody@example.com"), "invalid_grant", "user hasn't approved this consumer"),
            ("not-a-jwt", "invalid_grant", "invalid assertion"),
        ]
        for assertion, error, description in cases:
            answer = token(assertion)
            assert answer.status_code == 400
            assert answer.json() == {"error": error, "error_description": description}
        session = session_for(emu, good.json()["access_token"])
        assert session.get(f"{emu.url}/services/data/{API}/limits").status_code == 200


def test_jwt_unverified_when_no_key(emu):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    answer = session_for(emu).post(
        f"{emu.url}/services/oauth2/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": _assertion(key)},
    )
    assert answer.status_code == 200


def test_state_file_survives_restart(tmp_path):
    state = tmp_path / "org.json"
    with start_emulator(EmulatorConfig(port=0, state_file=str(state))) as first:
        http = session_for(first, first.issue_token())
        record_id = http.post(
            f"{first.url}/services/data/{API}/sobjects/Case", json={"Subject": "kept", "Hub_Id__c": "CASE-1"}
        ).json()["id"]
        http.delete(f"{first.url}/services/data/{API}/sobjects/Case/{record_id}")
        used = first.api_usage()[0]
    assert state.exists()
    with start_emulator(EmulatorConfig(port=0, state_file=str(state))) as second:
        records = second.records("Case", include_deleted=True)
        assert [(r["Id"], r["IsDeleted"], r["Subject"]) for r in records] == [(record_id, True, "kept")]
        assert second.api_usage()[0] == used
        assert len(second.records("Pricebook2")) == 1
        new_id = second.seed("Case", [{"Subject": "next"}])[0]
        assert new_id != record_id and second.records("Case")[0]["CaseNumber"] == "00001002"


def test_standalone_module_prints_url_and_ca(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "local.sf_emulator", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        lines = [process.stdout.readline().strip() for _ in range(2)]
        assert lines[0].startswith("url=https://127.0.0.1:")
        assert lines[1].startswith("ca_path=")
        url, ca_path = lines[0][4:], lines[1][8:]
        import requests

        http = requests.Session()
        http.verify = ca_path
        http.trust_env = False
        assert http.get(f"{url}/__emulator/health").json()["ok"] is True
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_user_changes_and_clock_controls(emu):
    control = session_for(emu)
    created = control.post(
        f"{emu.url}/__emulator/changes", json={"op": "create", "sobject": "Account", "fields": {"Name": "UI"}}
    ).json()
    assert created["success"] is True
    record = emu.records("Account")[0]
    assert record["CreatedById"] == "005000000000002AAA"
    failed = control.post(
        f"{emu.url}/__emulator/changes",
        json={"op": "update", "sobject": "Account", "id": created["id"], "fields": {"Name": None}},
    )
    assert failed.json()["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    clock = control.post(f"{emu.url}/__emulator/clock", json={"advance_seconds": 86400}).json()
    assert clock["offset_seconds"] == 86400
    emu.user_change("update", "Account", created["id"], {"Phone": "1"})
    later = emu.records("Account")[0]
    assert later["LastModifiedDate"] > record["LastModifiedDate"]
    http = session_for(emu, emu.issue_token())
    yesterday = http.get(
        f"{emu.url}/services/data/{API}/query", params={"q": "SELECT Id FROM Account WHERE CreatedDate = YESTERDAY"}
    ).json()
    assert yesterday["totalSize"] == 1


def test_composite_all_or_none_applies_to_collections(http, data_url, emu):
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v60.0/composite/sobjects",
                "referenceId": "coll",
                "body": {
                    "allOrNone": False,
                    "records": [{"attributes": {"type": "Account"}, "Name": "ok"}, {"attributes": {"type": "Account"}}],
                },
            },
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Account",
                "referenceId": "next",
                "body": {"Name": "never"},
            },
        ],
    }
    results = http.post(f"{data_url}/composite", json=body).json()["compositeResponse"]
    rows = results[0]["body"]
    assert rows[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert emu.records("Account") == []
