"""Contract: the adapter where a real org is harder than a kind emulator (issue 14: duplicate and ambiguous external
ids, Bulk 2.0 result order and job lifecycle, an org past its allocation, one unknown field in a Collections row)."""

from __future__ import annotations

from typing import Any

import pytest

import sync_core.adapters.salesforce.client as client_module
from sync_core.domain.salesforce import BulkOperation, DeferralReason
from sync_core.errors import BudgetExhaustedError
from tests.contract.conftest import ClientFactory, Controls

pytestmark = pytest.mark.emulator

EXT = "Hub_Id__c"


def accounts(count: int, prefix: str) -> list[dict[str, Any]]:
    return [{"Name": f"{prefix} {number}", EXT: f"{prefix}-{number:05d}"} for number in range(count)]


def api_calls(controls: Controls) -> int:
    return int(controls.counters()["api_calls_total"])


def by_external_id(emulator: Any, prefix: str) -> dict[str, dict[str, Any]]:
    return {r[EXT]: r for r in emulator.records("Account") if r[EXT] and r[EXT].startswith(prefix)}


# ------------------------------------------------------------------ one external id twice in one write


@pytest.mark.parametrize("threshold", [2000, 3], ids=["collections", "bulk"])
def test_an_upsert_naming_one_external_id_twice_sends_its_last_record_once(
    make_client: ClientFactory, emulator: Any, threshold: int
) -> None:
    client = make_client(salesforce_bulk_threshold=threshold)
    rows = [
        {"Name": "Old name", EXT: "TWICE-1"},
        {"Name": "Alone", EXT: "ONCE-1"},
        {"Name": "New name", EXT: "TWICE-1"},
        {"Name": "No key"},  # no external id: sent as it is (and refused by Salesforce)
    ]

    outcome = client.upsert_many("Account", rows, EXT)

    assert [result.index for result in outcome.results] == [0, 1, 2, 3]
    first, alone, last, no_key = outcome.results
    assert last.success and alone.success and first.success
    assert first.id == last.id and first.created is False  # superseded by the later record, never "created"
    assert no_key.failure is not None and not no_key.retryable
    written = by_external_id(emulator, "TWICE-")
    assert list(written) == ["TWICE-1"] and written["TWICE-1"]["Name"] == "New name"


def test_a_deferred_upsert_defers_the_superseded_records_with_their_last_one(
    make_client: ClientFactory, controls: Controls
) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))
    controls.fault(kind="collections", status=503, error_code="SERVER_UNAVAILABLE", count=1)
    rows = [{"Name": "Old", EXT: "DEF-1"}, {"Name": "Other", EXT: "DEF-2"}, {"Name": "New", EXT: "DEF-1"}]

    outcome = client.upsert_many("Account", rows, EXT)

    assert outcome.results == [] and outcome.deferred is not None
    assert outcome.deferred.indexes == [0, 1, 2]  # every record waits, none is failed or dropped
    assert [item["Name"] for item in outcome.deferred.items] == ["Old", "Other", "New"]
    assert all(item["attributes"] == {"type": "Account"} for item in outcome.deferred.items)


def test_external_ids_that_differ_only_in_case_fail_per_record_as_permanent(make_client: ClientFactory) -> None:
    # Hub_Id__c is unique and case-insensitive: Salesforce refuses both rows of one request
    # ("DUPLICATE_VALUE: Duplicate external id specified"); the sync engine logs them, nothing retries them.
    client = make_client()

    outcome = client.upsert_many("Account", [{"Name": "A", EXT: "CASE-1"}, {"Name": "B", EXT: "case-1"}], EXT)

    failures = [result.failure for result in outcome.results]
    assert [f.code if f else None for f in failures] == ["DUPLICATE_VALUE", "DUPLICATE_VALUE"]
    assert all(f is not None and not f.retryable and "Duplicate external id specified" in f.message for f in failures)


def test_an_upsert_matching_several_records_is_a_permanent_record_failure(
    make_client: ClientFactory, emulator: Any
) -> None:
    emulator.seed("Account", [{"Name": "One", "Legacy_Key__c": "L-1"}, {"Name": "Two", "Legacy_Key__c": "L-1"}])
    client = make_client()

    outcome = client.upsert_many("Account", [{"Name": "Which?", "Legacy_Key__c": "L-1"}], "Legacy_Key__c")

    failure = outcome.results[0].failure
    assert failure is not None and failure.code == "DUPLICATE_EXTERNAL_ID" and not failure.retryable
    assert sorted(r["Name"] for r in emulator.records("Account")) == ["One", "Two"]


# ------------------------------------------------------------------ Bulk 2.0: result order and job lifecycle


def test_bulk_results_are_matched_to_records_by_content_not_position(make_client: ClientFactory, emulator: Any) -> None:
    client = make_client(salesforce_bulk_threshold=5)
    rows: list[dict[str, Any]] = accounts(40, "ORDER")
    for index in (3, 17, 31):
        rows[index] = {EXT: f"ORDER-{index:05d}"}  # no Name: these fail
    rows.append({EXT: "ORDER-NONAME"})

    outcome = client.upsert_many("Account", rows, EXT)  # successfulResults / failedResults come shuffled

    assert [result.index for result in outcome.results] == list(range(41))
    assert [result.index for result in outcome.results if not result.success] == [3, 17, 31, 40]
    written = by_external_id(emulator, "ORDER-")
    for result in outcome.results:
        if result.success:
            assert written[rows[result.index][EXT]]["Id"] == result.id  # the id of this record, not a neighbour's


def test_the_adapter_polls_a_job_until_salesforce_completes_it(
    make_client: ClientFactory, emulator: Any, controls: Controls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The job takes a minute of the org's clock; the adapter's waits advance that clock instead of sleeping.
    controls.configure(bulk_processing_delay_seconds=60)
    states: list[str] = []
    waits: list[float] = []

    class OrgTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            waits.append(seconds)
            emulator.advance_clock(seconds)

    original = client_module.SalesforceClient._bulk_send

    def recording(self: Any, method: str, path: str, **kwargs: Any) -> Any:
        response = original(self, method, path, **kwargs)
        if method == "GET" and path.count("/") == 1:  # the job info
            states.append(response.json()["state"])
        return response

    monkeypatch.setattr(client_module, "time", OrgTime)
    monkeypatch.setattr(client_module.SalesforceClient, "_bulk_send", recording)
    client = make_client(salesforce_bulk_threshold=5)

    outcome = client.bulk_ingest("Account", BulkOperation.INSERT, accounts(8, "POLL"))

    assert all(result.success for result in outcome.results) and len(outcome.results) == 8
    assert states[0] == "UploadComplete" and "InProgress" in states and states[-1] == "JobComplete"
    assert states.count("JobComplete") == 1  # it stopped polling once the job was final
    assert waits[:3] == [0.5, 0.75, 1.125] and sum(waits) >= 60  # short first waits, growing


# ------------------------------------------------------------------ an org past its allocation


def test_an_org_answering_past_its_allocation_gets_no_more_calls(
    make_client: ClientFactory, controls: Controls
) -> None:
    client = make_client()
    list(client.query("SELECT Id FROM Account"))  # the client believes the org has room
    controls.limits(maximum=1000, used=1000)  # a real org still answers, up to about 10 % past max

    written = client.create_many("Account", accounts(3, "OVER"))  # answered 200: api-usage=1001/1000
    before = api_calls(controls)
    deferred = client.create_many("Account", accounts(3, "OVER2"))
    with pytest.raises(BudgetExhaustedError):
        list(client.query("SELECT Id FROM Account"))

    assert all(result.success for result in written.results)
    usage = client.org_usage
    assert usage is not None and usage.used > usage.max
    assert deferred.results == [] and deferred.deferred is not None
    assert deferred.deferred.reason is DeferralReason.ORG_ALLOCATION
    assert api_calls(controls) == before  # the governor stopped, not Salesforce


def test_a_new_client_reads_a_negative_remaining_as_usage_past_max(
    make_client: ClientFactory, controls: Controls
) -> None:
    controls.limits(maximum=1000, used=1050)  # still answered: GET /limits says Remaining -50

    outcome = make_client().create_many("Account", accounts(2, "NEG"))

    assert outcome.results == [] and outcome.deferred is not None
    assert outcome.deferred.reason is DeferralReason.ORG_ALLOCATION


# ------------------------------------------------------------------ one unknown field in one Collections row


@pytest.mark.parametrize("mode", ["request", "row"])
@pytest.mark.parametrize("count", [3, 450], ids=["collections", "composite"])
def test_a_record_with_an_unknown_field_fails_alone_whichever_way_salesforce_refuses_it(
    make_client: ClientFactory, emulator: Any, controls: Controls, mode: str, count: int
) -> None:
    # UNVERIFIED which way a real org answers: the whole request 400 INVALID_FIELD (the emulator's default) or that row
    # alone. Either way only the record carrying the field fails (permanent); the others are written.
    controls.configure(collections_unknown_field=mode)
    client = make_client()
    rows: list[dict[str, Any]] = accounts(count, f"UNK{mode}")
    bad = count - 2
    rows[bad] = {**rows[bad], "Bogus__c": "x"}

    outcome = client.upsert_many("Account", rows, EXT)

    assert [result.index for result in outcome.results] == list(range(count)) and outcome.deferred is None
    failed = [result for result in outcome.results if not result.success]
    assert [result.index for result in failed] == [bad]
    failure = failed[0].failure
    assert failure is not None and failure.code == "INVALID_FIELD" and not failure.retryable
    assert "Bogus__c" in failure.message
    assert len(by_external_id(emulator, f"UNK{mode}-")) == count - 1
