"""Daily API allocation, fault injection, latency and counters."""

from __future__ import annotations

import time

import pytest

from tests.emulator.conftest import session_for

pytestmark = pytest.mark.emulator


def test_limit_exhaustion_is_403_and_counts_stop(http, data_url, emu):
    emu.set_limits(max=3, used=0)
    for expected in ("api-usage=1/3", "api-usage=2/3", "api-usage=3/3"):
        assert http.get(f"{data_url}/limits").headers["Sforce-Limit-Info"] == expected
    refused = http.get(f"{data_url}/limits")
    assert refused.status_code == 403
    assert refused.json() == [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    assert emu.api_usage() == (3, 3)
    emu.set_limits(max=10)
    assert http.get(f"{data_url}/limits").status_code == 200


def test_limits_control_endpoint(emu, http, data_url):
    control = session_for(emu)
    assert control.post(f"{emu.url}/__emulator/limits", json={"max": 50, "used": 49}).json() == {"max": 50, "used": 49}
    assert http.get(f"{data_url}/limits").json()["DailyApiRequests"] == {"Max": 50, "Remaining": 0}
    assert http.get(f"{data_url}/limits").status_code == 403


def test_fault_rule_with_count_then_recovers(http, data_url, emu):
    emu.add_fault(kind="sobject", status=503, error_code="SERVER_UNAVAILABLE", count=2)
    statuses = [http.post(f"{data_url}/sobjects/Account", json={"Name": "x"}).status_code for _ in range(3)]
    assert statuses == [503, 503, 201]
    assert emu.counters()["faults"] == {"SERVER_UNAVAILABLE": 2}
    assert len(emu.records("Account")) == 1


def test_fault_by_path_prefix_and_single_row_lock_error(http, data_url, emu):
    emu.add_fault(path_prefix="/sobjects/Case", status=400, error_code="UNABLE_TO_LOCK_ROW")
    answer = http.post(f"{data_url}/sobjects/Case", json={"Subject": "x"})
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert http.post(f"{data_url}/sobjects/Account", json={"Name": "x"}).status_code == 201


def test_row_faults_in_collections_are_deterministic(http, data_url, emu):
    def run():
        emu.reset()
        emu.add_fault(kind="collections", scope="record", status=400, error_code="UNABLE_TO_LOCK_ROW", rate=0.5)
        records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(20)]
        answer = http.post(f"{data_url}/composite/sobjects", json={"records": records})
        assert answer.status_code == 200
        return [r["success"] for r in answer.json()]

    first = run()
    assert 0 < first.count(False) < 20
    assert run() == first
    failure = http.post(
        f"{data_url}/composite/sobjects", json={"records": [{"attributes": {"type": "Account"}, "Name": "x"}] * 20}
    ).json()
    codes = {e["statusCode"] for r in failure for e in r["errors"]}
    assert codes <= {"UNABLE_TO_LOCK_ROW"}


def test_fault_controls_over_http_and_latency(emu, http, data_url):
    control = session_for(emu)
    rules = control.post(
        f"{emu.url}/__emulator/faults",
        json={
            "rules": [
                {"kind": "query", "status": 403, "error_code": "REQUEST_LIMIT_EXCEEDED", "rate": 1.0, "count": 1}
            ],
            "latency_ms": 30,
        },
    ).json()
    assert rules["latency_ms"] == 30 and rules["rules"][0]["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    started = time.monotonic()
    refused = http.get(f"{data_url}/query", params={"q": "SELECT Id FROM Account"})
    assert time.monotonic() - started >= 0.03
    assert refused.status_code == 403
    assert refused.json()[0]["message"] == "TotalRequests Limit exceeded."
    assert control.delete(f"{emu.url}/__emulator/faults").json() == {"rules": [], "latency_ms": 0}
    assert http.get(f"{data_url}/query", params={"q": "SELECT Id FROM Account"}).status_code == 200


def test_counters_endpoint(emu, http, data_url):
    control = session_for(emu)
    http.get(f"{data_url}/query", params={"q": "SELECT Id FROM Account"})
    http.post(f"{data_url}/sobjects/Account", json={"Name": "x"})
    counters = control.get(f"{emu.url}/__emulator/counters").json()
    assert counters["requests"] == {"query": 1, "sobject": 1}
    assert counters["api_calls_total"] == 2
    assert control.delete(f"{emu.url}/__emulator/counters").json()["requests_total"] == 0


def test_seed_records_and_reset_controls(emu):
    control = session_for(emu)
    seeded = control.post(
        f"{emu.url}/__emulator/seed",
        json={"sobject": "Lead", "records": [{"LastName": "L", "Company": "C", "CreatedDate": "2020-01-01T00:00:00Z"}]},
    ).json()
    listed = control.get(f"{emu.url}/__emulator/records/Lead").json()
    assert [r["Id"] for r in listed] == seeded["ids"]
    assert listed[0]["CreatedDate"] == "2020-01-01T00:00:00.000+0000"
    assert listed[0]["Status"] == "Open - Not Contacted"
    assert control.post(f"{emu.url}/__emulator/reset").json() == {"ok": True}
    assert control.get(f"{emu.url}/__emulator/records/Lead").json() == []


def test_expire_sessions_control(emu, http, data_url, token):
    control = session_for(emu)
    assert control.post(f"{emu.url}/__emulator/sessions/expire", json={}).json()["expired"] >= 1
    assert http.get(f"{data_url}/limits").status_code == 401
