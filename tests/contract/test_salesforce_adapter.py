"""Contract: the Salesforce adapter against the emulator over HTTPS (auth, reads, writes, Bulk 2.0, errors, budget)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from sync_core.domain.salesforce import BulkOperation, DeferralReason, budget_day
from sync_core.errors import BudgetExhaustedError, PermanentError, RetryableError
from tests.contract.conftest import HUB_CLIENT_ID, ClientFactory, Controls, Transport, path_is, secret_for

pytestmark = pytest.mark.emulator

EXT = "Hub_Id__c"


def accounts(count: int, prefix: str = "ACC") -> list[dict[str, Any]]:
    return [{"Name": f"{prefix} {number}", EXT: f"{prefix}-{number:05d}"} for number in range(count)]


def api_calls(controls: Controls) -> int:
    return int(controls.counters()["api_calls_total"])


# ------------------------------------------------------------------ auth


@pytest.mark.parametrize("flow", ["jwt_bearer", "client_credentials", "password"])
def test_each_flow_gets_a_token_and_reads(make_client: ClientFactory, emulator: Any, flow: str) -> None:
    emulator.seed("Account", [{"Name": "Seeded", EXT: "SEED-1"}])
    client = make_client(flow)

    rows = list(client.query(f"SELECT Id, Name FROM Account WHERE {EXT} = 'SEED-1'"))

    assert [row["Name"] for row in rows] == ["Seeded"]


@pytest.mark.parametrize(
    ("flow", "wrong"),
    [
        ("password", {"password": "wrong"}),
        ("client_credentials", {"client_secret": "wrong"}),
        ("jwt_bearer", {"username": "nobody@x.example"}),
    ],
)
def test_wrong_credentials_are_a_permanent_error(
    make_client: ClientFactory, emulator: Any, key_pair: Any, flow: str, wrong: dict[str, str]
) -> None:
    client = make_client(flow, secret={**secret_for(flow, emulator, key_pair), **wrong})

    with pytest.raises(PermanentError) as raised:
        list(client.query("SELECT Id FROM Account"))
    assert raised.value.code


def test_an_expired_session_gets_one_new_token_transparently(make_client: ClientFactory, controls: Controls) -> None:
    client = make_client("jwt_bearer")
    assert list(client.query("SELECT Id FROM Account")) == []
    before = controls.counters()

    controls.expire_sessions()
    outcome = client.create_many("Account", accounts(2))

    assert len(outcome.succeeded) == 2
    after = controls.counters()
    assert _requests(after, "oauth") - _requests(before, "oauth") == 1  # one new token, not a loop


def test_a_session_that_stays_invalid_is_retried_only_once(make_client: ClientFactory, controls: Controls) -> None:
    client = make_client("password")
    list(client.query("SELECT Id FROM Account"))
    controls.fault(status=401, error_code="INVALID_SESSION_ID", path_prefix="/services/data", count=5)
    before = controls.counters()

    with pytest.raises(RetryableError) as raised:
        list(client.query("SELECT Id FROM Account"))

    assert raised.value.code == "INVALID_SESSION_ID"
    assert _requests(controls.counters(), "oauth") - _requests(before, "oauth") == 1


def test_a_failed_token_renewal_mid_write_keeps_what_was_written_and_defers_the_rest(
    make_client: ClientFactory, controls: Controls
) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))  # the first token is in hand
    # Call 1 (a Composite request) goes through; call 2 (plain Collections) finds the session expired, and the
    # token endpoint is down when the client asks for a new one.
    controls.fault(status=401, error_code="INVALID_SESSION_ID", path_prefix="/composite/sobjects", count=1)
    controls.fault(kind="oauth", status=503, error_code="SERVER_UNAVAILABLE", count=1)

    outcome = client.upsert_many("Account", accounts(1001, "RENEW"), EXT)

    assert [result.index for result in outcome.results] == list(range(1000))
    assert all(result.success for result in outcome.results)
    assert outcome.deferred is not None and outcome.deferred.indexes == [1000]
    assert outcome.deferred.reason is DeferralReason.SALESFORCE_UNAVAILABLE


def test_a_rotated_secret_is_used_as_soon_as_salesforce_refuses_the_cached_one(
    make_client: ClientFactory, emulator: Any, key_pair: Any
) -> None:
    right = secret_for("password", emulator, key_pair)
    client = make_client("password", secret={**right, "password": "before-rotation"})
    with pytest.raises(PermanentError):
        list(client.query("SELECT Id FROM Account"))

    boto3.client("secretsmanager").put_secret_value(
        SecretId=os.environ["SALESFORCE_SECRET_ARN"], SecretString=json.dumps(right)
    )  # rotated well within the five minutes the secret is cached

    assert list(client.query("SELECT Id FROM Account")) == []


def test_a_broken_answer_is_a_retryable_read_error_and_defers_a_write(
    make_client: ClientFactory, transport: Transport
) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))
    broken = requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead(0 bytes read)")
    transport.fail(path_is("GET", "/query/"), broken)
    transport.fail(path_is("POST", "/composite/sobjects"), requests.exceptions.SSLError("EOF in violation"))

    with pytest.raises(RetryableError) as raised:
        list(client.query("SELECT Id FROM Account"))
    outcome = client.create_many("Account", accounts(2, "BROKEN"))

    assert raised.value.code == "CONNECTION_ERROR"
    assert "IncompleteRead" in raised.value.message
    assert outcome.deferred is not None and outcome.deferred.indexes == [0, 1]


# ------------------------------------------------------------------ reads


def test_query_follows_next_records_url_page_by_page(
    make_client: ClientFactory, emulator: Any, controls: Controls
) -> None:
    emulator.seed("Account", accounts(450, "PAGE"))
    client = make_client()
    list(client.query("SELECT Id FROM Account LIMIT 1"))  # token and org usage known before counting
    calls_before = client.calls_this_run

    queries_before = _requests(controls.counters(), "query")

    rows = list(client.query("SELECT Id, Hub_Id__c FROM Account ORDER BY Hub_Id__c"))

    assert [row[EXT] for row in rows] == [f"PAGE-{n:05d}" for n in range(450)]
    pages = _requests(controls.counters(), "query") - queries_before
    assert pages >= 3  # pages hold up to 200 rows (the batch size), often fewer
    assert client.calls_this_run - calls_before == pages  # one call per page, whatever its size


def test_query_all_includes_deleted_records(make_client: ClientFactory) -> None:
    client = make_client()
    created = client.create_many("Account", accounts(3, "DEL"))
    doomed = created.results[0].id
    assert doomed is not None
    assert [result.success for result in client.delete_many("Account", [doomed]).results] == [True]

    live = {row["Id"] for row in client.query("SELECT Id FROM Account")}
    everything = {row["Id"]: row["IsDeleted"] for row in client.query_all("SELECT Id, IsDeleted FROM Account")}

    assert doomed not in live
    assert everything[doomed] is True
    assert len(everything) == 3


def test_get_by_id_and_describe(make_client: ClientFactory, emulator: Any) -> None:
    (account_id,) = emulator.seed("Account", [{"Name": "Read Me", EXT: "GET-1"}])
    client = make_client()

    record = client.get("Account", account_id, fields=["Name", EXT])
    description = client.describe("Account")

    assert record is not None and record["Name"] == "Read Me" and record[EXT] == "GET-1"
    assert client.get("Account", account_id[:3] + "000000000000", fields=["Name"]) is None  # well-formed, absent
    assert description.missing_fields(["Name", EXT, "No_Such_Field__c"]) == ["No_Such_Field__c"]
    hub_id = description.field(EXT)
    assert hub_id is not None and hub_id.external_id


# ------------------------------------------------------------------ writes


def test_partial_failure_in_a_collection_gives_a_result_per_record(make_client: ClientFactory, emulator: Any) -> None:
    client = make_client()
    rows = [{"Name": "Good", EXT: "PF-1"}, {EXT: "PF-2"}, {"Name": "Also good", EXT: "PF-3"}]

    outcome = client.create_many("Account", rows)

    assert [result.index for result in outcome.results] == [0, 1, 2]
    assert [result.success for result in outcome.results] == [True, False, True]
    failure = outcome.results[1].failure
    assert failure is not None and failure.code == "REQUIRED_FIELD_MISSING" and not failure.retryable
    assert "Name" in failure.fields
    stored = {record[EXT] for record in emulator.records("Account")}
    assert stored == {"PF-1", "PF-3"}


def test_upsert_by_external_id_never_duplicates(make_client: ClientFactory, emulator: Any) -> None:
    client = make_client()
    rows = accounts(5, "UPS")

    first = client.upsert_many("Account", rows, EXT)
    second = client.upsert_many("Account", [{**row, "Name": row["Name"] + " v2"} for row in rows], EXT)

    assert [result.created for result in first.results] == [True] * 5
    assert [result.created for result in second.results] == [False] * 5
    assert [r.id for r in first.results] == [r.id for r in second.results]
    stored = [record for record in emulator.records("Account") if record[EXT].startswith("UPS-")]
    assert len(stored) == 5
    assert all(record["Name"].endswith(" v2") for record in stored)


def test_update_and_delete_many(make_client: ClientFactory, emulator: Any) -> None:
    ids = emulator.seed("Account", accounts(3, "UPD"))
    client = make_client()

    updated = client.update_many("Account", [{"Id": record_id, "Phone": "+31 20 555 0100"} for record_id in ids])
    deleted = client.delete_many("Account", ids[:2])
    deleted_again = client.delete_many("Account", ids[:1])

    assert all(result.success for result in updated.results)
    assert {record["Phone"] for record in emulator.records("Account")} == {"+31 20 555 0100"}
    assert [result.success for result in deleted.results] == [True, True]
    assert len(emulator.records("Account")) == 1
    failure = deleted_again.results[0].failure
    assert failure is not None and failure.code == "ENTITY_IS_DELETED" and not failure.retryable


def test_duplicate_external_id_is_a_permanent_record_failure(make_client: ClientFactory) -> None:
    client = make_client()

    outcome = client.create_many("Account", [{"Name": "One", EXT: "DUP-1"}, {"Name": "Two", EXT: "DUP-1"}])

    failures = [result.failure for result in outcome.results if result.failure]
    assert [f.code for f in failures] == ["DUPLICATE_VALUE"]
    assert not failures[0].retryable


@pytest.mark.parametrize(("count", "calls"), [(200, 1), (201, 1), (1000, 1), (1001, 2)])
def test_writes_pack_1000_records_into_one_call(
    make_client: ClientFactory, emulator: Any, controls: Controls, count: int, calls: int
) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account LIMIT 1"))
    before_hub, before_org = client.calls_this_run, api_calls(controls)

    outcome = client.upsert_many("Account", accounts(count, "PACK"), EXT)

    assert len(outcome.succeeded) == count and outcome.deferred is None
    assert client.calls_this_run - before_hub == calls
    assert api_calls(controls) - before_org == calls
    assert len(emulator.records("Account")) == count


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (403, "REQUEST_LIMIT_EXCEEDED", DeferralReason.ORG_ALLOCATION),
        (503, "SERVER_UNAVAILABLE", DeferralReason.SALESFORCE_UNAVAILABLE),
    ],
)
def test_a_composite_subrequest_failing_as_a_whole_defers_its_records(
    make_client: ClientFactory, emulator: Any, controls: Controls, status: int, code: str, reason: DeferralReason
) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))
    # The second Collections subrequest of the Composite call is refused as a whole; the others succeed.
    controls.fault(scope="subrequest", kind="collections", status=status, error_code=code, skip=1, count=1)

    outcome = client.upsert_many("Account", accounts(1100, "SUBREQ"), EXT)  # a Composite call, then a plain one

    assert [result.index for result in outcome.results] == [*range(200), *range(400, 1000)]
    assert all(result.success for result in outcome.results)
    assert outcome.deferred is not None
    assert outcome.deferred.indexes == [*range(200, 400), *range(1000, 1100)]  # the refused chunk and the next call
    assert outcome.deferred.reason is reason
    assert [item[EXT] for item in outcome.deferred.items][:1] == ["SUBREQ-00200"]
    assert controls.counters()["faults"] == {code: 1}
    written = sorted(record[EXT] for record in emulator.records("Account"))
    assert written == [f"SUBREQ-{n:05d}" for n in [*range(200), *range(400, 1000)]]  # the refused chunk never ran


def test_collections_and_composite_writes_carry_no_client_by_default(make_client: ClientFactory, emulator: Any) -> None:
    """Salesforce documents Sforce-Call-Options for rows, rows by external id, query and Bulk API 2.0, not for
    Collections or Composite (REST API Developer Guide, "Call Options Header"): by default their change events
    carry an untagged origin, so echo suppression cannot rely on `client=` (it compares a hash of the values
    the hub last wrote)."""
    client = make_client()

    client.upsert_many("Account", accounts(250, "ORIGIN"), EXT)  # a Composite request (two chunks)
    client.create_many("Account", accounts(1, "SINGLE"))  # a plain Collections request

    origins = _change_origins(emulator, expected=251)
    assert len(origins) >= 251
    assert set(origins) == {"com/salesforce/api/rest/60.0"}


@pytest.mark.parametrize("emulator", [{"cdc_client_in_collections": True}], indirect=True)
def test_every_write_says_it_comes_from_the_hub_where_the_org_tags_collections(
    make_client: ClientFactory, emulator: Any
) -> None:
    client = make_client()

    client.upsert_many("Account", accounts(250, "ORIGIN"), EXT)  # a Composite request (two chunks)
    client.create_many("Account", accounts(1, "SINGLE"))  # a plain Collections request

    origins = _change_origins(emulator, expected=251)
    assert len(origins) >= 251
    assert set(origins) == {f"com/salesforce/api/rest/60.0;client={HUB_CLIENT_ID}"}


# ------------------------------------------------------------------ Bulk API 2.0


def test_writes_above_the_threshold_run_as_a_bulk_job(
    make_client: ClientFactory, emulator: Any, controls: Controls
) -> None:
    client = make_client(salesforce_bulk_threshold=5)
    rows = [*accounts(7, "BULK"), {EXT: "BULK-NONAME"}]

    outcome = client.upsert_many("Account", rows, EXT)
    again = client.bulk_ingest("Account", BulkOperation.UPSERT, rows[:7], EXT)

    assert [result.index for result in outcome.results] == list(range(8))
    assert [result.success for result in outcome.results] == [True] * 7 + [False]
    failure = outcome.results[7].failure
    assert failure is not None and failure.code == "REQUIRED_FIELD_MISSING"
    assert all(result.created is False for result in again.results)
    assert len([r for r in emulator.records("Account") if r[EXT].startswith("BULK-")]) == 7
    assert _requests(controls.counters(), "bulk_ingest") >= 2 * 6  # create, upload, close, poll, 3 results
    assert _requests(controls.counters(), "collections") == 0
    assert _stored_calls() == client.calls_this_run  # the unused part of the job's reservation was given back


def test_a_bulk_job_salesforce_could_not_take_is_deferred(make_client: ClientFactory, controls: Controls) -> None:
    client = make_client(salesforce_bulk_threshold=5)
    list(client.query("SELECT Id FROM Account"))
    controls.fault(status=503, error_code="SERVER_UNAVAILABLE", path_prefix="/jobs/ingest", method="POST", count=2)

    upserted = client.upsert_many("Account", accounts(8, "BDEF"), EXT)
    deleted = client.delete_many("Account", [f"001Hb00000000{n:02d}IAA" for n in range(6)])

    assert upserted.results == [] and deleted.results == []
    assert upserted.deferred is not None and upserted.deferred.indexes == list(range(8))
    assert upserted.deferred.reason is DeferralReason.SALESFORCE_UNAVAILABLE
    assert deleted.deferred is not None
    assert deleted.deferred.items == [f"001Hb00000000{n:02d}IAA" for n in range(6)]  # ids, as delete_many takes


def test_a_bulk_job_whose_results_cannot_be_read_gives_retryable_results(
    make_client: ClientFactory, transport: Transport
) -> None:
    client = make_client(salesforce_bulk_threshold=5)
    # A timeout stays a transport fault: the adapter's read timeout (60 s) is not configurable, so emulator latency
    # would make the test a minute long. A 5xx on the same downloads is an emulator rule (next test).
    transport.fail(path_is("GET", "/successfulResults"), requests.exceptions.ReadTimeout("read timed out"))

    outcome = client.upsert_many("Account", accounts(8, "BRES"), EXT)

    assert [result.index for result in outcome.results] == list(range(8))
    assert all(result.retryable for result in outcome.results)
    failure = outcome.results[0].failure
    assert failure is not None and failure.code == "TIMEOUT" and "Bulk job 750" in failure.message


@pytest.mark.parametrize("resource", ["successfulResults", "failedResults", "unprocessedrecords"])
def test_a_bulk_job_whose_results_download_fails_with_a_5xx_gives_retryable_results(
    make_client: ClientFactory, emulator: Any, controls: Controls, resource: str
) -> None:
    client = make_client(salesforce_bulk_threshold=5)
    controls.fault(kind="bulk_ingest", path_suffix=f"/{resource}", method="GET", status=503, count=1)

    outcome = client.upsert_many("Account", accounts(8, "B5XX"), EXT)

    assert [result.index for result in outcome.results] == list(range(8))
    assert all(result.retryable for result in outcome.results)
    failure = outcome.results[0].failure
    assert failure is not None and failure.code == "SERVER_UNAVAILABLE" and "Bulk job 750" in failure.message
    assert controls.counters()["faults"] == {"SERVER_UNAVAILABLE": 1}
    assert len([r for r in emulator.records("Account") if r[EXT].startswith("B5XX-")]) == 8  # the job itself ran


def test_bulk_query_with_and_without_deleted_rows(make_client: ClientFactory, emulator: Any) -> None:
    ids = emulator.seed("Account", accounts(30, "BQ"))
    client = make_client()
    client.delete_many("Account", ids[:2])

    live = list(client.bulk_query("SELECT Id, Hub_Id__c FROM Account"))
    everything = list(client.bulk_query("SELECT Id, Hub_Id__c, IsDeleted FROM Account", include_deleted=True))

    assert sorted(row[EXT] for row in live) == [f"BQ-{n:05d}" for n in range(2, 30)]
    assert len(everything) == 30
    assert sorted(row["Id"] for row in everything if row["IsDeleted"] == "true") == sorted(ids[:2])


def test_a_bulk_query_whose_results_page_fails_with_a_5xx_is_a_retryable_read_error(
    make_client: ClientFactory, emulator: Any, controls: Controls
) -> None:
    emulator.seed("Account", accounts(3, "BQ5"))
    client = make_client()
    controls.fault(kind="bulk_query", path_suffix="/results", method="GET", status=503, count=1)

    with pytest.raises(RetryableError) as raised:
        list(client.bulk_query("SELECT Id, Hub_Id__c FROM Account"))

    assert raised.value.code == "SERVER_UNAVAILABLE"
    assert sorted(row[EXT] for row in client.bulk_query("SELECT Id, Hub_Id__c FROM Account")) == [
        f"BQ5-{n:05d}" for n in range(3)
    ]


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (503, "SERVER_UNAVAILABLE", True),
        (500, "UNKNOWN_EXCEPTION", True),
        (403, "REQUEST_LIMIT_EXCEEDED", True),
        (400, "UNABLE_TO_LOCK_ROW", True),
        (400, "INVALID_FIELD", False),
    ],
)
def test_read_errors_are_classified_with_salesforce_code_and_message(
    make_client: ClientFactory, controls: Controls, status: int, code: str, retryable: bool
) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))
    controls.fault(status=status, error_code=code, message=f"injected {code}", path_prefix="/services/data", count=1)

    with pytest.raises(RetryableError if retryable else PermanentError) as raised:
        list(client.query("SELECT Id FROM Account"))

    assert raised.value.code == code
    assert f"injected {code}" in raised.value.message


def test_a_bad_query_is_permanent(make_client: ClientFactory) -> None:
    with pytest.raises(PermanentError) as raised:
        list(make_client().query("SELECT No_Such_Field__c FROM Account"))
    assert raised.value.code == "INVALID_FIELD"


def test_row_locks_in_a_collection_are_retryable_per_record(make_client: ClientFactory, controls: Controls) -> None:
    client = make_client()
    controls.fault(status=400, error_code="UNABLE_TO_LOCK_ROW", scope="record", count=1)

    outcome = client.upsert_many("Account", accounts(3, "LOCK"), EXT)

    assert len(outcome.succeeded) == 2
    assert [result.failure.code for result in outcome.retryable_failures if result.failure] == ["UNABLE_TO_LOCK_ROW"]


def test_a_server_outage_defers_a_write_instead_of_failing_it(make_client: ClientFactory, controls: Controls) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))
    controls.fault(status=503, error_code="SERVER_UNAVAILABLE", path_prefix="/services/data", method="POST", count=1)

    outcome = client.create_many("Account", accounts(3, "OUT"))

    assert outcome.results == []
    assert outcome.deferred is not None
    assert outcome.deferred.indexes == [0, 1, 2]
    assert outcome.deferred.reason is DeferralReason.SALESFORCE_UNAVAILABLE


# ------------------------------------------------------------------ the API budget


def test_the_per_run_cap_defers_the_rest_of_a_write(make_client: ClientFactory, emulator: Any) -> None:
    client = make_client(salesforce_api_calls_per_run=3, salesforce_bulk_threshold=10_000)
    list(client.query("SELECT Id FROM Account"))  # the token is free; limits + query = 2 calls

    outcome = client.upsert_many("Account", accounts(2500, "CAP"), EXT)  # would need 3 calls, 1 is left

    assert client.calls_this_run <= 3
    assert len(outcome.succeeded) == 1000
    assert outcome.deferred is not None
    assert outcome.deferred.reason is DeferralReason.RUN_CAP
    assert outcome.deferred.indexes == list(range(1000, 2500))
    assert outcome.deferred.resume_after > datetime.now(UTC)
    assert not outcome.permanent_failures and not outcome.retryable_failures
    assert len(emulator.records("Account")) == 1000


def test_the_hub_never_spends_more_than_its_share(make_client: ClientFactory, controls: Controls) -> None:
    controls.limits(maximum=20, used=0)
    client = make_client(salesforce_api_budget_share=0.25)  # 5 calls a day for the hub

    for _ in range(4):
        list(client.query("SELECT Id FROM Account"))
    outcome = client.create_many("Account", accounts(10, "SHARE"))
    with pytest.raises(BudgetExhaustedError) as raised:
        list(client.query("SELECT Id FROM Account"))

    assert api_calls(controls) <= 5
    assert outcome.deferred is not None and outcome.deferred.reason is DeferralReason.HUB_SHARE
    assert raised.value.details["reason"] == DeferralReason.HUB_SHARE
    assert _stored_calls() <= 5


def test_the_share_is_shared_by_every_client_of_the_day(make_client: ClientFactory, controls: Controls) -> None:
    controls.limits(maximum=40, used=0)
    first = make_client(salesforce_api_budget_share=0.25)  # 10 calls
    for _ in range(8):
        list(first.query("SELECT Id FROM Account"))  # with GET /limits: 9 calls
    second = make_client(salesforce_api_budget_share=0.25)  # another run, same day

    outcome = second.upsert_many("Account", accounts(1500, "DAY"), EXT)  # 2 calls wanted, 1 left

    assert len(outcome.succeeded) == 1000
    assert outcome.deferred is not None and outcome.deferred.reason is DeferralReason.HUB_SHARE
    assert outcome.deferred.indexes == list(range(1000, 1500))
    assert _stored_calls() <= 10
    assert api_calls(controls) <= 10


def test_an_exhausted_org_defers_writes_and_refuses_reads(make_client: ClientFactory, controls: Controls) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))  # the client now believes the org has room
    controls.limits(maximum=1000, used=1100)  # past the overshoot a real org tolerates (10 %)

    outcome = client.create_many("Account", accounts(3, "ORG"))  # Salesforce answers 403 REQUEST_LIMIT_EXCEEDED
    with pytest.raises(BudgetExhaustedError):  # the header of that 403 told the governor
        list(client.query("SELECT Id FROM Account"))

    assert outcome.results == []
    assert outcome.deferred is not None and outcome.deferred.reason is DeferralReason.ORG_ALLOCATION
    assert outcome.deferred.indexes == [0, 1, 2]


def test_the_daily_count_matches_what_salesforce_charged(make_client: ClientFactory, controls: Controls) -> None:
    controls.reset_counters()
    client = make_client()

    list(client.query("SELECT Id FROM Account"))
    client.upsert_many("Account", accounts(1500, "COUNT"), EXT)
    client.describe("Account")

    assert _stored_calls() == client.calls_this_run
    assert api_calls(controls) <= client.calls_this_run


def test_an_empty_write_costs_no_call(make_client: ClientFactory, controls: Controls) -> None:
    client = make_client()
    controls.reset_counters()

    outcome = client.upsert_many("Account", [], EXT)

    assert outcome.results == [] and outcome.deferred is None
    assert api_calls(controls) == 0 and client.calls_this_run == 0


def test_a_refused_limits_lookup_defers_a_write_instead_of_raising(
    make_client: ClientFactory, controls: Controls
) -> None:
    controls.limits(maximum=1000, used=1100)  # a new client must ask GET /limits first: Salesforce refuses it too
    client = make_client()

    outcome = client.create_many("Account", accounts(3, "LIM"))
    bulk = client.bulk_ingest("Account", BulkOperation.INSERT, accounts(3, "LIMB"))

    assert outcome.results == [] and bulk.results == []
    assert outcome.deferred is not None and outcome.deferred.indexes == [0, 1, 2]
    assert outcome.deferred.reason is DeferralReason.ORG_ALLOCATION
    assert bulk.deferred is not None and bulk.deferred.indexes == [0, 1, 2]


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now_value = now

    def now(self) -> datetime:
        return self.now_value


def test_an_exhausted_org_seen_hours_ago_is_asked_again_not_waited_for_till_midnight(
    make_client: ClientFactory, controls: Controls
) -> None:
    morning = datetime.now(UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    first = make_client(clock=_Clock(morning))
    list(first.query("SELECT Id FROM Account"))
    # The org is past its allocation (and the overshoot), with calls made 23 h 30 min ago on its clock.
    controls.limits(maximum=1000, used=1100, seconds_ago=23 * 3600 + 30 * 60)
    deferred = first.upsert_many("Account", accounts(1500, "EXH"), EXT).deferred
    assert deferred is not None and deferred.reason is DeferralReason.ORG_ALLOCATION  # stores "exhausted"
    controls.advance_clock(31 * 60)  # Salesforce's rolling window frees up by itself

    soon = make_client(clock=_Clock(morning + timedelta(minutes=30)))
    at_resume = make_client(clock=_Clock(deferred.resume_after))

    with pytest.raises(BudgetExhaustedError):  # within the hour the stored figure stands: no call to find out
        list(soon.query("SELECT Id FROM Account"))
    assert list(at_resume.query("SELECT Id FROM Account")) == []  # when the write resumes, Salesforce is asked again


# ------------------------------------------------------------------ helpers


def _stored_calls() -> int:
    item = boto3.client("dynamodb").get_item(
        TableName=os.environ["SYNC_CONFIG_TABLE"],
        Key={"pk": {"S": "BUDGET"}, "sk": {"S": budget_day(datetime.now(UTC))}},
        ConsistentRead=True,
    )
    return int(item.get("Item", {}).get("calls", {}).get("N", "0"))


def _requests(counters: dict[str, Any], kind: str) -> int:
    return sum(count for name, count in counters["requests"].items() if kind in name)


def _change_origins(emulator: Any, expected: int) -> list[str]:
    """changeOrigin of the change events the emulator relayed (delivered asynchronously)."""
    deadline = time.monotonic() + 10
    while True:
        origins = [event["detail"]["payload"]["ChangeEventHeader"]["changeOrigin"] for event in emulator.cdc_events()]
        if len(origins) >= expected or time.monotonic() > deadline:
            return origins
        time.sleep(0.05)
