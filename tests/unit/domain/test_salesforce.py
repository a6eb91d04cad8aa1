"""Salesforce rules: error classes, Sforce-Limit-Info, packing into Collections and Composite, the budget governor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_core.domain.salesforce import (
    COLLECTION_SIZE,
    ApiUsage,
    BudgetState,
    DeferralReason,
    RecordResult,
    SalesforceFailure,
    SObjectDescription,
    WriteOutcome,
    budget_day,
    bulk_error_failure,
    calls_for_records,
    collection_results,
    decide_budget,
    deferral_reason_for,
    failures_from_body,
    next_utc_midnight,
    org_usage_is_current,
    pack_for_composite,
    parse_limit_info,
    use_bulk,
)
from sync_core.errors import BudgetExhaustedError, PermanentError, RetryableError

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)

# ------------------------------------------------------------------ classification


@pytest.mark.parametrize(
    ("code", "message", "http_status", "retryable"),
    [
        ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", 403, True),
        ("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded", 403, True),
        ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", 400, True),
        ("UNABLE_TO_LOCK_ROW", "per-row in a collection", None, True),
        ("SERVER_UNAVAILABLE", "Server unavailable", 503, True),
        ("TIMEOUT", "read timed out", None, True),
        ("CONNECTION_ERROR", "connection refused", None, True),
        ("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back", None, True),
        ("INVALID_SESSION_ID", "Session expired or invalid", 401, True),
        ("UNKNOWN_EXCEPTION", "An unexpected error occurred", 500, True),
        ("HTTP_502", "<html>Bad gateway</html>", 502, True),
        ("HTTP_429", "slow down", 429, True),
        ("RESULT_MISSING", "Salesforce returned no result for this record", None, True),
        ("BULK_UNPROCESSED", "the job ended before this record was processed", None, True),
        ("BULK_JOB_PENDING", "Bulk job 750 still running", None, True),
        ("BULK_JOB_ABORTED", "Job aborted", None, True),
        ("BULK_RESULT_MISSING", "no result row matched this record", None, True),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Amount must be positive", 400, False),
        ("REQUIRED_FIELD_MISSING", "Required fields are missing: [Name]", 400, False),
        ("INVALID_FIELD", "No such column 'Foo__c' on entity 'Account'", 400, False),
        ("ENTITY_IS_DELETED", "entity is deleted", 400, False),
        ("DUPLICATE_VALUE", "duplicate value found: Hub_Id__c", 400, False),
        ("DUPLICATES_DETECTED", "Use one of these records?", 400, False),
        ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "bad value for restricted picklist", 400, False),
        ("MALFORMED_ID", "malformed id 001", 400, False),
        ("STRING_TOO_LONG", "Name: data value too large", 400, False),
        ("NOT_FOUND", "The requested resource does not exist", 404, False),
        ("SOME_NEW_CODE", "anything", 400, False),
        ("REQUIRED_FIELD_MISSING", "a permanent code stays permanent even on a 500", 500, False),
    ],
)
def test_classification_table(code: str, message: str, http_status: int | None, retryable: bool) -> None:
    failure = SalesforceFailure(code=code, message=message, fields=("Name",), http_status=http_status)

    error = failure.to_error()

    assert failure.retryable is retryable
    assert isinstance(error, RetryableError if retryable else PermanentError)
    assert error.code == code
    assert message in error.message  # Salesforce's words reach the error log
    assert (failure.retry_after_seconds is not None) is retryable


def test_daily_limit_is_a_budget_error_and_waits_longer_than_concurrency() -> None:
    daily = SalesforceFailure(code="REQUEST_LIMIT_EXCEEDED", message="TotalRequests Limit exceeded.", http_status=403)
    concurrent = SalesforceFailure(code="REQUEST_LIMIT_EXCEEDED", message="ConcurrentPerOrgLongTxn Limit exceeded")

    assert isinstance(daily.to_error(), BudgetExhaustedError)
    assert not isinstance(concurrent.to_error(), BudgetExhaustedError)
    assert (daily.retry_after_seconds or 0) > (concurrent.retry_after_seconds or 0)
    assert deferral_reason_for(daily) is DeferralReason.ORG_ALLOCATION
    assert deferral_reason_for(concurrent) is DeferralReason.SALESFORCE_THROTTLED
    assert deferral_reason_for(SalesforceFailure(code="TIMEOUT", message="")) is DeferralReason.SALESFORCE_UNAVAILABLE


def test_permanent_error_keeps_fields() -> None:
    error = SalesforceFailure(code="REQUIRED_FIELD_MISSING", message="missing", fields=("Name", "Stage")).to_error()

    assert isinstance(error, PermanentError)
    assert error.fields == ["Name", "Stage"]


MISSING_NAME = {"message": "Required fields are missing: [Name]", "errorCode": "REQUIRED_FIELD_MISSING"}
EXPIRED = {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
MATCHES = ["/services/data/v60.0/sobjects/Account/001A", "/services/data/v60.0/sobjects/Account/001B"]


@pytest.mark.parametrize(
    ("status", "body", "expected_code", "expected_message", "expected_fields"),
    [
        (400, [{**MISSING_NAME, "fields": ["Name"]}], "REQUIRED_FIELD_MISSING", "missing: [Name]", ("Name",)),
        (401, [EXPIRED], "INVALID_SESSION_ID", "Session expired or invalid", ()),
        (400, {"error": "invalid_grant", "error_description": "auth failure"}, "INVALID_GRANT", "auth failure", ()),
        (503, "<html>down</html>", "HTTP_503", "<html>down</html>", ()),
        (300, MATCHES, "MULTIPLE_RECORDS_FOUND", "001A", ()),
        (400, [], "HTTP_400", "[]", ()),
    ],
)
def test_error_bodies(status, body, expected_code, expected_message, expected_fields) -> None:
    failure = failures_from_body(status, body)[0]

    assert failure.code == expected_code
    assert expected_message in failure.message
    assert failure.fields == expected_fields
    assert failure.http_status == status


@pytest.mark.parametrize(
    ("cell", "code", "message", "fields"),
    [
        ("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --", "REQUIRED_FIELD_MISSING",
         "Required fields are missing: [Name]", ("Name",)),
        ("DUPLICATE_VALUE:duplicate value found:Hub_Id__c,Name --", "DUPLICATE_VALUE", "duplicate value found",
         ("Hub_Id__c", "Name")),
        ("ENTITY_IS_DELETED:entity is deleted", "ENTITY_IS_DELETED", "entity is deleted", ()),
        ("Something odd happened", "BULK_RECORD_FAILED", "Something odd happened", ()),
    ],
)  # fmt: skip
def test_bulk_error_cells(cell: str, code: str, message: str, fields: tuple[str, ...]) -> None:
    failure = bulk_error_failure(cell)

    assert (failure.code, failure.message, failure.fields) == (code, message, fields)


# ------------------------------------------------------------------ Sforce-Limit-Info


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=25/15000", ApiUsage(used=25, max=15000)),
        ("api-usage=18/15000; api-bursts=1/750", ApiUsage(used=18, max=15000)),
        ("api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)", ApiUsage(used=25, max=5000)),
        ("per-app-api-usage=17/250(appName=x); api-usage=30/100", ApiUsage(used=30, max=100)),
        ("API-USAGE = 7/9", ApiUsage(used=7, max=9)),
        ("api-usage=16000/15000", ApiUsage(used=16000, max=15000)),  # used may pass max
        ("per-app-api-usage=17/250(appName=x)", None),
        ("api-usage=25", None),
        ("api-usage=a/100", None),
        ("api-usage=5/0", None),
        ("api-usage=-1/100", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_limit_info_header(header: str | None, expected: ApiUsage | None) -> None:
    assert parse_limit_info(header) == expected


# ------------------------------------------------------------------ packing


@pytest.mark.parametrize(
    ("records", "calls", "chunks_per_call", "last_chunk"),
    [
        (0, 0, [], 0),
        (1, 1, [1], 1),
        (199, 1, [1], 199),
        (200, 1, [1], 200),
        (201, 1, [2], 1),
        (1000, 1, [5], 200),
        (1001, 2, [5, 1], 1),
        (2400, 3, [5, 5, 2], 200),
    ],
)
def test_packing(records: int, calls: int, chunks_per_call: list[int], last_chunk: int) -> None:
    items = list(range(records))

    packed = pack_for_composite(items)

    assert len(packed) == calls == calls_for_records(records)
    assert [len(call) for call in packed] == chunks_per_call
    assert all(len(chunk) <= COLLECTION_SIZE for call in packed for chunk in call)
    assert [item for call in packed for chunk in call for item in chunk] == items  # nothing lost, order kept
    if records:
        assert len(packed[-1][-1]) == last_chunk


@pytest.mark.parametrize(("count", "threshold", "bulk"), [(2000, 2000, False), (2001, 2000, True), (10, 5, True)])
def test_bulk_above_threshold(count: int, threshold: int, bulk: bool) -> None:
    assert use_bulk(count, threshold) is bulk


# ------------------------------------------------------------------ budget governor


def state(*, org_used=0, org_max=10_000, hub=0, run=0, share=0.5, cap=100) -> BudgetState:
    return BudgetState(
        org=ApiUsage(used=org_used, max=org_max), hub_used_today=hub, run_used=run, share=share, run_cap=cap
    )


@pytest.mark.parametrize(
    ("budget", "requested", "granted", "reason", "resume_after"),
    [
        (state(), 3, 3, None, None),
        (state(run=98), 3, 2, DeferralReason.RUN_CAP, NOW + timedelta(minutes=1)),
        (state(run=100), 1, 0, DeferralReason.RUN_CAP, NOW + timedelta(minutes=1)),
        (state(run=150), 1, 0, DeferralReason.RUN_CAP, NOW + timedelta(minutes=1)),
        (state(hub=4_999, cap=10_000), 5, 1, DeferralReason.HUB_SHARE, datetime(2026, 11, 23, tzinfo=UTC)),
        (state(hub=5_000, cap=10_000), 1, 0, DeferralReason.HUB_SHARE, datetime(2026, 11, 23, tzinfo=UTC)),
        (state(org_used=9_998, hub=10), 5, 2, DeferralReason.ORG_ALLOCATION, NOW + timedelta(hours=1)),
        (state(org_used=16_000, hub=10), 1, 0, DeferralReason.ORG_ALLOCATION, NOW + timedelta(hours=1)),
        (state(share=1.0, org_used=9_990, hub=9_990, cap=50), 20, 10, DeferralReason.HUB_SHARE,
         datetime(2026, 11, 23, tzinfo=UTC)),  # hub share and org tie: wait for the later one
        (state(share=0.1, org_max=1_000, hub=99), 1, 1, None, None),
        (state(share=0.1, org_max=1_005, hub=100), 1, 0, DeferralReason.HUB_SHARE, datetime(2026, 11, 23, tzinfo=UTC)),
        (state(), 0, 0, None, None),
    ],
)  # fmt: skip
def test_governor(budget: BudgetState, requested: int, granted: int, reason, resume_after) -> None:
    decision = decide_budget(budget, requested, NOW)

    assert decision.granted == granted
    assert decision.reason == reason
    assert decision.resume_after == resume_after
    assert decision.fully_granted is (granted == requested)


def test_hub_never_passes_its_share_however_it_asks() -> None:
    spent, run = 0, 0
    for ask in [7, 1, 300, 2, 999, 5] * 50:
        decision = decide_budget(state(hub=spent, run=run, share=0.25, org_max=2_000, cap=10_000), ask, NOW)
        spent += decision.granted
        run += decision.granted
    assert spent == 500


def test_day_boundaries_are_utc() -> None:
    late_evening_in_new_york = datetime(2026, 11, 22, 23, 30, tzinfo=UTC) - timedelta(hours=5)
    assert budget_day(late_evening_in_new_york.astimezone(UTC)) == "2026-11-22"
    assert next_utc_midnight(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == datetime(2027, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------ results


def test_record_results_from_a_collection_answer() -> None:
    missing = {"statusCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing", "fields": ["Name"]}
    locked = {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access", "fields": []}
    answer = [
        {"id": "0015e00000MbQ9sAAF", "success": True, "errors": [], "created": True},
        {"success": False, "errors": [missing]},
        {"success": False, "errors": [locked]},
    ]

    outcome = WriteOutcome(results=[RecordResult.from_salesforce(i, payload) for i, payload in enumerate(answer)])

    assert [r.index for r in outcome.succeeded] == [0]
    assert outcome.succeeded[0].created is True
    assert [r.index for r in outcome.permanent_failures] == [1]
    assert [r.index for r in outcome.retryable_failures] == [2]
    failure = outcome.results[1].failure
    assert failure is not None
    assert (failure.code, failure.fields) == ("REQUIRED_FIELD_MISSING", ("Name",))


def test_a_lock_among_other_errors_makes_the_record_retryable() -> None:
    result = RecordResult.from_salesforce(
        0,
        {
            "success": False,
            "errors": [
                {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "x"},
                {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "y"},
            ],
        },
    )
    assert result.retryable


def test_describe_answers_field_checks() -> None:
    description = SObjectDescription.model_validate(
        {
            "name": "Account",
            "fields": [
                {"name": "Id", "type": "id", "createable": False, "updateable": False},
                {"name": "Name", "type": "string", "createable": True, "updateable": True},
                {"name": "Hub_Id__c", "type": "string", "createable": True, "updateable": True, "externalId": True},
            ],
            "urls": {},
        }
    )

    assert description.missing_fields(["name", "Hub_Id__c", "Foo__c"]) == ["Foo__c"]
    assert description.not_writable(["Id", "Name"], creating=True) == ["Id"]
    field = description.field("hub_id__c")
    assert field is not None and field.external_id


def test_multiple_matches_keep_every_id_and_stay_permanent() -> None:
    ids = [f"001A0000000000{number:02d}AAA" for number in range(30)]  # more than 500 characters of URLs
    body = [f"/services/data/v60.0/sobjects/Account/{record_id}" for record_id in ids]

    failure = failures_from_body(300, body)[0]
    error = failure.to_error()

    assert failure.code == "MULTIPLE_RECORDS_FOUND" and not failure.retryable
    assert failure.matching_ids == tuple(ids)
    assert all(record_id in failure.message for record_id in ids)
    assert isinstance(error, PermanentError) and error.details["matching_ids"] == ids


OK_ROW = {"id": "001A", "success": True, "errors": [], "created": False}


@pytest.mark.parametrize(
    ("http_status", "body", "deferred_code"),
    [
        (503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}], "SERVER_UNAVAILABLE"),
        (500, "<html><body>Internal error</body></html>", "HTTP_500"),
        (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}],
         "REQUEST_LIMIT_EXCEEDED"),
    ],
)  # fmt: skip
def test_a_collection_failing_as_a_whole_for_a_passing_reason_is_deferred(http_status, body, deferred_code) -> None:
    results, failure = collection_results([4, 5, 6], http_status, body)

    assert results == []
    assert failure is not None and failure.code == deferred_code and failure.retryable


def test_collection_results_one_per_record_in_order() -> None:
    invalid = [{"errorCode": "INVALID_FIELD", "message": "No such column 'X__c'", "fields": ["X__c"]}]

    ok, none = collection_results([7, 8, 9], 200, [OK_ROW, OK_ROW])  # one answer short
    rejected, no_failure = collection_results([1, 2], 400, invalid)

    assert none is None and [r.index for r in ok] == [7, 8, 9]
    assert [r.success for r in ok] == [True, True, False]
    assert ok[2].failure is not None and ok[2].failure.code == "RESULT_MISSING" and ok[2].retryable
    assert no_failure is None and [r.index for r in rejected] == [1, 2]
    assert all(r.failure is not None and r.failure.code == "INVALID_FIELD" and not r.retryable for r in rejected)


@pytest.mark.parametrize(
    ("usage", "current"),
    [
        (None, False),
        (ApiUsage(used=10, max=100), False),  # no time known: ask Salesforce
        (ApiUsage(used=100, max=100, seen_at=NOW - timedelta(minutes=59)), True),
        (ApiUsage(used=110_018, max=100_000, seen_at=NOW - timedelta(minutes=59)), True),  # past max: still stands
        # A write deferred for org_allocation resumes exactly an hour after the figure was seen: it must ask again.
        (ApiUsage(used=100, max=100, seen_at=NOW - timedelta(hours=1)), False),
        (ApiUsage(used=100, max=100, seen_at=NOW - timedelta(hours=1, seconds=1)), False),
    ],
)
def test_a_stored_org_usage_stands_for_an_hour(usage: ApiUsage | None, current: bool) -> None:
    assert org_usage_is_current(usage, NOW) is current
