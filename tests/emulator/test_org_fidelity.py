"""Where a real org is harder on a client than a kind emulator would be (issue 14, points 4 and 9-13).

Each test cites the Salesforce documentation (or, where Salesforce documents nothing, the evidence) it follows.
"""

from __future__ import annotations

import csv
import io

import pytest

from local.sf_emulator import EmulatorConfig, start_emulator
from tests.emulator.conftest import API, session_for

pytestmark = pytest.mark.emulator

EXT = "Hub_Id__c"


def parse(text):
    return list(csv.DictReader(io.StringIO(text)))


def upsert(http, data_url, records, field=EXT, obj="Account"):
    body = {"allOrNone": False, "records": [{"attributes": {"type": obj}, **r} for r in records]}
    return http.patch(f"{data_url}/composite/sobjects/{obj}/{field}", json=body)


def ingest(http, data_url, csv_text, operation="insert", **job):
    created = http.post(f"{data_url}/jobs/ingest", json={"object": "Account", "operation": operation, **job}).json()
    http.put(f"{data_url}/jobs/ingest/{created['id']}/batches", data=csv_text, headers={"Content-Type": "text/csv"})
    closed = http.patch(f"{data_url}/jobs/ingest/{created['id']}", json={"state": "UploadComplete"})
    assert closed.status_code == 200
    return created["id"]


# ------------------------------------------------------------------ 4. one external id twice in one write
# Salesforce's REST docs say nothing about it; real orgs fail every row naming the repeated value with
# DUPLICATE_VALUE "Duplicate external id specified: <value>" (the text public clients match on, e.g. CastledData's
# SalesforceErrorParser), and write none of them.


def test_a_collections_upsert_naming_one_external_id_twice_fails_those_rows(http, data_url, emu):
    answer = upsert(
        http,
        data_url,
        [{"Name": "First", EXT: "TWICE-1"}, {"Name": "Alone", EXT: "ONCE-1"}, {"Name": "Second", EXT: "twice-1"}],
    )

    assert answer.status_code == 200
    first, alone, second = answer.json()
    duplicate = {"statusCode": "DUPLICATE_VALUE", "message": "Duplicate external id specified: TWICE-1", "fields": []}
    assert first == {"success": False, "errors": [duplicate]}
    assert alone["success"] is True and alone["created"] is True
    # Hub_Id__c is unique and case-insensitive: "twice-1" names the same record
    assert second["errors"][0]["message"] == "Duplicate external id specified: twice-1"
    assert [r[EXT] for r in emu.records("Account")] == ["ONCE-1"]


def test_a_bulk_upsert_chunk_naming_one_external_id_twice_fails_those_rows(http, data_url, emu):
    # Bulk 2.0 processes a job in chunks of 200 rows; a value repeated inside one chunk fails both rows, the same
    # value in two chunks is an insert and then an update.
    rows = [f"Dup {n},DUP-{n:03d}" for n in range(200)]
    rows[5] = "Repeated,DUP-000"
    rows.append("Later chunk,DUP-001")
    job_id = ingest(http, data_url, "Name,Hub_Id__c\n" + "\n".join(rows) + "\n", "upsert", externalIdFieldName=EXT)
    emu.advance_clock(1)

    failed = parse(http.get(f"{data_url}/jobs/ingest/{job_id}/failedResults").text)
    successful = parse(http.get(f"{data_url}/jobs/ingest/{job_id}/successfulResults").text)

    assert sorted(row["Name"] for row in failed) == ["Dup 0", "Repeated"]
    assert {row["sf__Error"] for row in failed} == {"DUPLICATE_VALUE:Duplicate external id specified: DUP-000: --"}
    assert len(successful) == 199
    later = [row for row in successful if row["Name"] == "Later chunk"]
    assert later[0]["sf__Created"] == "false"  # the first chunk created DUP-001, the second updated it
    assert not [r for r in emu.records("Account") if r[EXT] == "DUP-000"]


# ------------------------------------------------------------------ 9. Bulk 2.0 results order
# "The order of records in the response is not guaranteed to match the ordering of records in the original job
# data." (Bulk API 2.0 Developer Guide, Get Job Successful Record Results / Get Job Failed Record Results)


def test_bulk_results_come_in_a_shuffled_but_repeatable_order(http, data_url, emu):
    names = [f"Order {n:02d}" for n in range(30)]
    job_id = ingest(http, data_url, "Name\n" + "\n".join(names) + "\n")
    emu.advance_clock(1)

    first = [row["Name"] for row in parse(http.get(f"{data_url}/jobs/ingest/{job_id}/successfulResults").text)]
    again = [row["Name"] for row in parse(http.get(f"{data_url}/jobs/ingest/{job_id}/successfulResults").text)]

    assert sorted(first) == names and first != names
    assert again == first  # seeded by random_seed and the job: the same answer every time

    emu.configure(bulk_results_in_order=True)
    assert [row["Name"] for row in parse(http.get(f"{data_url}/jobs/ingest/{job_id}/successfulResults").text)] == names


# ------------------------------------------------------------------ 10. Bulk 2.0 job lifecycle
# "UploadComplete: ... The job is queued for processing", "InProgress: The job is being processed", then
# "JobComplete", "Failed" or "Aborted" (Bulk API 2.0 Developer Guide, Get Job Info: state); results are available
# only for a completed job.


def test_a_closed_job_is_queued_then_in_progress_then_complete_on_the_orgs_clock(http, data_url, emu):
    emu.configure(bulk_processing_delay_seconds=60)
    job_id = ingest(http, data_url, "Name\nLifecycle\n")
    info = f"{data_url}/jobs/ingest/{job_id}"

    assert http.get(info).json()["state"] == "UploadComplete"
    early = http.get(f"{info}/successfulResults")
    assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    emu.advance_clock(31)
    in_progress = http.get(info).json()
    assert in_progress["state"] == "InProgress" and in_progress["numberRecordsProcessed"] == 0
    emu.advance_clock(30)
    complete = http.get(info).json()
    assert complete["state"] == "JobComplete" and complete["numberRecordsProcessed"] == 1

    query = http.post(f"{data_url}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}).json()
    assert http.get(f"{data_url}/jobs/query/{query['id']}").json()["state"] == "UploadComplete"
    emu.advance_clock(61)
    assert http.get(f"{data_url}/jobs/query/{query['id']}").json()["state"] == "JobComplete"


def test_a_zero_delay_completes_jobs_at_once(http, data_url, emu):
    emu.configure(bulk_processing_delay_seconds=0)
    job_id = ingest(http, data_url, "Name\nAt once\n")
    assert http.get(f"{data_url}/jobs/ingest/{job_id}").json()["state"] == "JobComplete"


# ------------------------------------------------------------------ 11. API usage: overshoot and rolling window
# "api-usage=18/15000 ... used can exceed max" (REST API Developer Guide, Limit Info Header); /limits reports
# DailyApiRequests Max and Remaining (Limits resource); the allocation is "Total API Requests ... per 24-hour
# period", a rolling window (Salesforce Developer Limits and Allocations Quick Reference, API Request Limits).


def test_an_org_answers_past_its_allocation_before_refusing(http, data_url, emu):
    emu.set_limits(max=100, used=100)  # api_overshoot_ratio 0.1 (the default): refused from 110

    over = http.get(f"{data_url}/limits")

    assert over.status_code == 200 and over.headers["Sforce-Limit-Info"] == "api-usage=101/100"
    assert over.json()["DailyApiRequests"] == {"Max": 100, "Remaining": -1}
    statuses = [http.get(f"{data_url}/sobjects").status_code for _ in range(9)]
    assert statuses == [200] * 9  # 102 .. 110
    refused = http.get(f"{data_url}/sobjects")
    assert refused.status_code == 403 and refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=110/100"


def test_usage_falls_as_the_24_hour_window_rolls_on_the_orgs_clock(http, data_url, emu):
    emu.set_limits(max=1000, used=600, seconds_ago=20 * 3600)  # calls made 20 hours ago
    emu.add_api_usage(300, seconds_ago=10 * 3600)  # and 10 hours ago
    assert emu.api_usage() == (900, 1000)

    emu.advance_clock(4 * 3600 + 1)  # the first 600 are now more than 24 hours old
    assert http.get(f"{data_url}/limits").headers["Sforce-Limit-Info"] == "api-usage=301/1000"
    emu.advance_clock(10 * 3600)
    assert http.get(f"{data_url}/limits").json()["DailyApiRequests"] == {"Max": 1000, "Remaining": 998}

    control = session_for(emu)
    body = {"used": 1100, "seconds_ago": 23 * 3600 + 1800}  # exhausted, but half an hour from falling
    assert control.post(f"{emu.url}/__emulator/limits", json=body).json()["used"] == 1100
    assert http.get(f"{data_url}/limits").status_code == 403
    control.post(f"{emu.url}/__emulator/clock", json={"advance_seconds": 1801})
    assert http.get(f"{data_url}/limits").headers["Sforce-Limit-Info"] == "api-usage=1/1000"


# ------------------------------------------------------------------ 12. non-unique external ids, FIELDS(), pages


@pytest.fixture
def non_unique_emu():
    emulator = start_emulator(EmulatorConfig(port=0, non_unique_external_ids=["Account.Legacy_Key__c"]))
    yield emulator
    emulator.stop()


def test_an_upsert_matching_several_records_answers_300_with_their_urls(non_unique_emu):
    # "If the external ID matches multiple existing records, then a 300 error is returned, and no records are created
    # or updated." / "REST API returns a 300 response with the list of matching records." (REST API Developer Guide,
    # Upsert Records Using sObject Rows by External ID; Insert or Update (Upsert) a Record Using an External ID)
    emu = non_unique_emu
    http = session_for(emu, emu.issue_token())
    data_url = f"{emu.url}/services/data/{API}"
    fields = {f["name"]: f for f in http.get(f"{data_url}/sobjects/Account/describe").json()["fields"]}
    assert (fields["Legacy_Key__c"]["externalId"], fields["Legacy_Key__c"]["unique"]) == (True, False)
    assert (fields[EXT]["externalId"], fields[EXT]["unique"]) == (True, True)
    ids = emu.seed("Account", [{"Name": "One", "Legacy_Key__c": "L-1"}, {"Name": "Two", "Legacy_Key__c": "L-1"}])

    answer = http.patch(f"{data_url}/sobjects/Account/Legacy_Key__c/L-1", json={"Name": "Changed"})

    assert answer.status_code == 300
    assert sorted(answer.json()) == sorted(f"/services/data/{API}/sobjects/Account/{i}" for i in ids)
    assert http.get(f"{data_url}/sobjects/Account/Legacy_Key__c/L-1").status_code == 300
    assert sorted(r["Name"] for r in emu.records("Account")) == ["One", "Two"]  # nothing updated
    row = upsert(http, data_url, [{"Name": "Row", "Legacy_Key__c": "L-1"}], field="Legacy_Key__c").json()[0]
    assert row["success"] is False and row["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    # a non-unique external id matches exactly (case-insensitive matching needs the Unique attribute)
    created = http.patch(f"{data_url}/sobjects/Account/Legacy_Key__c/l-1", json={"Name": "Lower"})
    assert created.status_code == 201


def test_fields_all_and_custom_need_a_limit_of_at_most_200(http, data_url):
    # "FIELDS(ALL) and FIELDS(CUSTOM) ... are unbounded ... you must use LIMIT n, where n is 200 or less";
    # FIELDS(STANDARD) is bounded (SOQL and SOSL Reference, SELECT: FIELDS(), Bounded and Unbounded Queries).
    # Error text as Salesforce sends it: "The SOQL FIELDS function must have a LIMIT of at most 200".
    for query in ("SELECT FIELDS(ALL) FROM Account", "SELECT FIELDS(CUSTOM) FROM Account LIMIT 201"):
        refused = http.get(f"{data_url}/query", params={"q": query})
        assert refused.status_code == 400
        assert refused.json() == [
            {"message": "The SOQL FIELDS function must have a LIMIT of at most 200", "errorCode": "MALFORMED_QUERY"}
        ]
    for query in ("SELECT FIELDS(ALL) FROM Account LIMIT 200", "SELECT FIELDS(STANDARD) FROM Account"):
        assert http.get(f"{data_url}/query", params={"q": query}).status_code == 200


def test_query_pages_hold_up_to_the_batch_size_not_exactly_it(http, data_url, emu):
    # "By default, returns up to 2,000 records at once ... Specifying a batch size does not guarantee that the returned
    # batch is the requested size." (REST API: Query; Sforce-Query-Options header, batchSize 200 to 2,000)
    emu.seed("Contact", [{"LastName": f"P{i:04d}"} for i in range(4500)])

    def page_sizes(headers):
        sizes, names = [], []
        page = http.get(f"{data_url}/query", params={"q": "SELECT LastName FROM Contact"}, headers=headers).json()
        while True:
            sizes.append(len(page["records"]))
            names += [r["LastName"] for r in page["records"]]
            if page["done"]:
                return sizes, names
            page = http.get(f"{emu.url}{page['nextRecordsUrl']}", headers=headers).json()

    sizes, names = page_sizes({})
    assert sorted(names) == [f"P{i:04d}" for i in range(4500)]  # every row exactly once
    assert all(1000 <= size <= 2000 for size in sizes[:-1]) and set(sizes[:-1]) != {2000}
    small, _ = page_sizes({"Sforce-Query-Options": "batchSize=200"})
    assert all(100 <= size <= 200 for size in small[:-1]) and len(set(small)) > 1


# ------------------------------------------------------------------ 13. one unknown field in one Collections row
# UNVERIFIED: the REST API Developer Guide says only "If the request isn't well formed, the API returns a 400 Bad
# Request" (sObject Collections). The emulator offers both readings; the stricter one is the default.


@pytest.mark.parametrize("method", ["POST", "PATCH-upsert"])
def test_one_unknown_field_refuses_the_whole_collections_request_by_default(http, data_url, emu, method):
    records = [{"Name": "Good", EXT: "UNK-1"}, {"Name": "Bad", EXT: "UNK-2", "Bogus__c": "x"}]
    if method == "POST":
        body = {"allOrNone": False, "records": [{"attributes": {"type": "Account"}, **r} for r in records]}
        answer = http.post(f"{data_url}/composite/sobjects", json=body)
    else:
        answer = upsert(http, data_url, records)

    assert answer.status_code == 400
    assert answer.json() == [
        {"message": "No such column 'Bogus__c' on sobject of type Account", "errorCode": "INVALID_FIELD"}
    ]
    assert emu.records("Account") == []


def test_one_unknown_field_fails_only_its_row_when_configured(http, data_url, emu):
    emu.configure(collections_unknown_field="row")

    answer = upsert(http, data_url, [{"Name": "Good", EXT: "ROW-1"}, {"Name": "Bad", EXT: "ROW-2", "Bogus__c": "x"}])

    good, bad = answer.json()
    assert answer.status_code == 200 and good["success"] is True
    assert bad["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert [r[EXT] for r in emu.records("Account")] == ["ROW-1"]


def test_runtime_options_are_checked_and_reset_restores_them(emu):
    with pytest.raises(ValueError, match="not runtime options"):
        emu.configure(daily_api_limit=5)
    with pytest.raises(ValueError, match="'request' or 'row'"):
        emu.configure(collections_unknown_field="sometimes")
    emu.configure(bulk_results_in_order=True, api_overshoot_ratio=0)
    emu.reset()
    assert emu.configure()["bulk_results_in_order"] is False
    assert emu.configure()["api_overshoot_ratio"] == 0.1
