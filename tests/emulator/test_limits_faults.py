"""Daily API allocation, fault injection, latency and counters."""

from __future__ import annotations

import time

import pytest

from tests.emulator.conftest import session_for

pytestmark = pytest.mark.emulator


def test_limit_exhaustion_is_403_and_counts_stop(http, data_url, emu):
    emu.configure(api_overshoot_ratio=0)  # refuse at max, no overshoot
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
    assert control.post(f"{emu.url}/__emulator/config", json={"api_overshoot_ratio": 0}).status_code == 200
    answer = control.post(f"{emu.url}/__emulator/limits", json={"max": 50, "used": 49}).json()
    assert answer == {"max": 50, "used": 49, "remaining": 1, "refused_from": 50}
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


def _collections_subrequests(count):
    return [
        {
            "method": "POST",
            "url": "/services/data/v60.0/composite/sobjects",
            "referenceId": f"chunk{number}",
            "body": {"records": [{"attributes": {"type": "Account"}, "Name": f"C{number}-{i}"} for i in range(2)]},
        }
        for number in range(count)
    ]


def test_subrequest_fault_fails_one_composite_subrequest_as_a_whole(http, data_url, emu):
    emu.add_fault(
        scope="subrequest", kind="collections", status=403, error_code="REQUEST_LIMIT_EXCEEDED", skip=1, count=1
    )
    answer = http.post(
        f"{data_url}/composite", json={"allOrNone": False, "compositeRequest": _collections_subrequests(3)}
    )

    assert answer.status_code == 200
    subs = answer.json()["compositeResponse"]
    assert [s["httpStatusCode"] for s in subs] == [200, 403, 200]
    assert subs[1] == {
        "body": [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        "httpHeaders": {},
        "httpStatusCode": 403,
        "referenceId": "chunk1",
    }
    assert all(row["success"] for s in (subs[0], subs[2]) for row in s["body"])
    assert sorted(r["Name"] for r in emu.records("Account")) == ["C0-0", "C0-1", "C2-0", "C2-1"]  # chunk1 never ran
    counters = emu.counters()
    assert counters["faults"] == {"REQUEST_LIMIT_EXCEEDED": 1}
    assert counters["api_calls"] == {"composite": 1}
    # count=1 is spent: the same request now succeeds whole
    again = http.post(f"{data_url}/composite", json={"compositeRequest": _collections_subrequests(3)}).json()
    assert [s["httpStatusCode"] for s in again["compositeResponse"]] == [200, 200, 200]


def test_subrequest_fault_with_all_or_none_rolls_back_the_others(http, data_url, emu):
    emu.add_fault(scope="subrequest", path_prefix="/composite/sobjects", status=503, error_code="SERVER_UNAVAILABLE")
    body = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Account",
                "referenceId": "single",
                "body": {"Name": "Single"},
            },
            *_collections_subrequests(1),
        ],
    }
    subs = http.post(f"{data_url}/composite", json=body).json()["compositeResponse"]

    assert subs[1]["httpStatusCode"] == 503
    assert subs[1]["body"] == [
        {"message": "Server temporarily unavailable. Try again later.", "errorCode": "SERVER_UNAVAILABLE"}
    ]
    assert subs[0]["httpStatusCode"] == 400 and subs[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert emu.records("Account") == []


def test_subrequest_fault_halts_dependent_subrequests_and_ignores_plain_requests(http, data_url, emu):
    emu.add_fault(scope="subrequest", kind="sobject", method="POST", path_suffix="/Account", status=503)
    body = {
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Account",
                "referenceId": "acct",
                "body": {"Name": "A"},
            },
            {
                "method": "POST",
                "url": "/services/data/v60.0/sobjects/Contact",
                "referenceId": "child",
                "body": {"LastName": "x", "AccountId": "@{acct.id}"},
            },
        ]
    }
    subs = http.post(f"{data_url}/composite", json=body).json()["compositeResponse"]

    assert subs[0]["httpStatusCode"] == 503
    assert subs[1]["httpStatusCode"] == 400 and subs[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    # scope="subrequest" never touches a request outside a Composite call, nor does scope="request" a subrequest
    assert http.post(f"{data_url}/sobjects/Account", json={"Name": "plain"}).status_code == 201
    emu.clear_faults()
    emu.add_fault(kind="sobject", status=503)
    subs = http.post(f"{data_url}/composite", json=body).json()["compositeResponse"]
    assert [s["httpStatusCode"] for s in subs] == [201, 201]


def test_subrequest_faults_with_a_rate_are_deterministic(http, data_url, emu):
    def run():
        emu.reset()
        emu.add_fault(scope="subrequest", kind="collections", rate=0.5)
        answer = http.post(f"{data_url}/composite", json={"compositeRequest": _collections_subrequests(5)})
        return [s["httpStatusCode"] for s in answer.json()["compositeResponse"]]

    first = run()
    assert set(first) == {200, 503}
    assert run() == first


def test_fault_rule_validation(emu):
    control = session_for(emu)
    for bad in ({"scope": "row"}, {"skip": -1}, {"rate": 2}, {"nope": 1}):
        assert control.post(f"{emu.url}/__emulator/faults", json=bad).status_code == 400
    assert control.get(f"{emu.url}/__emulator/faults").json()["rules"] == []


def _finished_ingest_job(http, data_url, emu):
    job = http.post(f"{data_url}/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    http.put(f"{data_url}/jobs/ingest/{job['id']}/batches", data=b"Name\nOne\n\n", headers={"Content-Type": "text/csv"})
    http.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    emu.advance_clock(1)  # past the processing delay
    return job["id"]


@pytest.mark.parametrize("resource", ["successfulResults", "failedResults", "unprocessedrecords"])
def test_bulk_ingest_results_fail_by_path_prefix_or_suffix(http, data_url, emu, resource):
    job_id = _finished_ingest_job(http, data_url, emu)
    results = f"{data_url}/jobs/ingest/{job_id}/{resource}"
    # by path prefix: needs the job id (the versioned or unversioned path both work)
    emu.add_fault(path_prefix=f"/jobs/ingest/{job_id}/{resource}", method="GET", status=503, count=1)
    refused = http.get(results)
    assert refused.status_code == 503
    assert refused.json() == [
        {"message": "Server temporarily unavailable. Try again later.", "errorCode": "SERVER_UNAVAILABLE"}
    ]
    assert http.get(f"{data_url}/jobs/ingest/{job_id}").status_code == 200  # the job info is not matched
    assert http.get(results).status_code == 200  # count spent
    # by path suffix: any job (its id unknown when the rule is made)
    emu.add_fault(kind="bulk_ingest", path_suffix=f"/{resource}", status=500, error_code="UNKNOWN_EXCEPTION", count=1)
    other_job = _finished_ingest_job(http, data_url, emu)
    assert http.get(f"{data_url}/jobs/ingest/{other_job}").json()["state"] == "JobComplete"
    failed = http.get(f"{data_url}/jobs/ingest/{other_job}/{resource}")
    assert failed.status_code == 500 and failed.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert http.get(f"{data_url}/jobs/ingest/{other_job}/{resource}").status_code == 200
    assert emu.counters()["statuses"]["bulk_ingest:503"] == 1


def test_bulk_query_results_fail_then_the_same_locator_serves(http, data_url, emu):
    emu.seed("Lead", [{"LastName": f"L{i}", "Company": "C"} for i in range(3)])
    job_id = http.post(f"{data_url}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Lead"}).json()[
        "id"
    ]
    emu.add_fault(kind="bulk_query", path_suffix="/results", status=503, count=1)
    emu.advance_clock(1)
    assert http.get(f"{data_url}/jobs/query/{job_id}").json()["state"] == "JobComplete"
    assert http.get(f"{data_url}/jobs/query/{job_id}/results").status_code == 503
    page = http.get(f"{data_url}/jobs/query/{job_id}/results")
    assert page.status_code == 200 and page.headers["Sforce-NumberOfRecords"] == "3"
