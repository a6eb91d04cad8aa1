"""Change events (Event Relay's detail.payload) to the engine's changes: the rules of
sync_core.domain.sync.change_events, on the real-shaped samples in events/."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.change_events import (
    ChangeEventPayload,
    change_from_reread,
    fields_to_reread,
    flat_name,
    imported_field_names,
    is_hub_echo,
    plan_change_event,
    record_soql,
    with_reread_fields,
)
from sync_core.domain.sync.changes import ChangeOperation, ChangeSource
from sync_core.domain.sync.defaults import default_mapping
from tests.conftest import load_event

ACCOUNT = EntityName.ACCOUNT
A, B = "0015e00000YpQrSAAV", "0015e00000YpQrTAAV"


def payload(name: str, **header: Any) -> ChangeEventPayload:
    raw = copy.deepcopy(load_event(f"salesforce_change_event_{name}")["detail"]["payload"])
    raw["ChangeEventHeader"].update(header)
    return ChangeEventPayload.model_validate(raw)


def plan(name: str, **header: Any) -> Any:
    return plan_change_event(payload(name, **header), ACCOUNT, hub_client_id="SyncHub")


def test_a_create_is_an_upsert_of_its_non_empty_fields_flattened_stamped_with_the_commit() -> None:
    [change] = plan("create").changes
    assert (change.operation, change.salesforce_id, change.source) == (
        ChangeOperation.UPSERT,
        A,
        ChangeSource.CHANGE_EVENT,
    )
    assert change.values["Name"] == "Van Dijk Logistics B.V."
    assert (change.values["BillingStreet"], change.values["BillingCity"]) == ("Waalhaven Zuidzijde 21", "Rotterdam")
    assert "BillingAddress" not in change.values
    assert change.stamp == datetime(2026, 11, 30, 11, 10, 1, 456000, tzinfo=UTC)  # commitTimestamp 1796037001456
    assert change.change_id == "0001a3c2-1b5e-47f2-8d11-6b0e9d4c3f10:1"


def test_an_update_names_only_its_changed_fields_clears_nulled_ones_and_leaves_diffs_to_a_read() -> None:
    result = plan("update")
    assert [change.salesforce_id for change in result.changes] == [A, B]  # one change per record
    for change in result.changes:
        assert change.values == {
            "Phone": "+31 10 765 4321",
            "BillingCity": "Schiedam",
            "LastModifiedDate": 1796037247000,
        }
        assert change.cleared_fields == ["Website"]
        assert "Description" not in change.changed_fields  # a diff is never stored as the value
    assert result.reread_fields == ["Description"]
    # Two records of one event: one change id, two deduplication ids (the record is part of it)
    assert len({change.change_id for change in result.changes}) == 1
    assert len({change.deduplication_id for change in result.changes}) == 2


def test_an_update_with_every_field_in_its_body_still_applies_only_the_changed_ones() -> None:
    """Pub/Sub's Avro events carry every field, null when unchanged: null is not cleared unless changed."""
    raw = payload("update").model_dump(by_alias=True)
    raw |= {"Name": None, "Industry": None, "BillingAddress": {"City": "Schiedam", "Street": None}}
    [change, _] = plan_change_event(ChangeEventPayload.model_validate(raw), ACCOUNT, hub_client_id="SyncHub").changes
    assert set(change.changed_fields) == {"Phone", "BillingCity", "LastModifiedDate", "Website"}


def test_a_changed_field_set_to_null_without_nulled_fields_is_cleared_and_one_the_body_lacks_is_read() -> None:
    result = plan("update", nulledFields=[], diffFields=[], changedFields=["Website", "Phone", "Industry"])
    assert result.changes[0].cleared_fields == ["Website"]
    assert result.reread_fields == ["Industry"]


def test_delete_carries_no_fields_and_undelete_the_records_fields() -> None:
    [delete] = plan("delete").changes
    assert (delete.operation, delete.values, delete.cleared_fields) == (ChangeOperation.DELETE, {}, [])
    [undelete] = plan("undelete").changes
    assert undelete.operation is ChangeOperation.UNDELETE and undelete.values["BillingCity"] == "Schiedam"


def test_gap_events_name_records_to_read_and_an_overflow_asks_for_a_pull() -> None:
    gap = plan("gap_update")
    assert (gap.changes, gap.reread_records, gap.pull_reason) == ([], [A, B], None)
    overflow = plan("gap_overflow")
    assert (overflow.changes, overflow.reread_records) == ([], [])
    assert overflow.pull_reason is not None and overflow.pull_reason.startswith("GAP_OVERFLOW")
    # A wildcard id (some field type conversions) cannot be read by id: the entity is pulled
    wildcard = plan("update", recordIds=["001*"])
    assert wildcard.changes == [] and wildcard.pull_reason is not None and "001*" in wildcard.pull_reason


@pytest.mark.parametrize(
    ("origin", "echo"),
    [
        ("com/salesforce/api/rest/62.0;client=SyncHub", True),
        ("com/salesforce/api/soap/62.0; client=SyncHub", True),
        ("com/salesforce/api/rest/62.0;client=SyncHub2", False),
        ("com/salesforce/api/soap/62.0;client=SfdcInternalAPI/", False),
        ("com/salesforce/api/bulkapi/62.0;client=Workbench", False),
        ("", False),
        (None, False),
    ],
)
def test_only_the_hubs_own_client_id_in_the_change_origin_is_an_echo(origin: str | None, echo: bool) -> None:
    assert is_hub_echo(origin, "SyncHub") is echo
    result = plan("update", changeOrigin=origin)
    assert result.echo is echo and (result.changes == []) is echo
    assert not is_hub_echo("com/salesforce/api/rest/62.0;client=", "")


def test_compound_names_flatten_as_a_records_fields() -> None:
    assert [flat_name(n) for n in ("BillingAddress.City", "Name.LastName", "Address.Street", "Phone")] == [
        "BillingCity",
        "LastName",
        "Street",
        "Phone",
    ]


def test_a_read_fills_in_the_diff_fields_and_a_gap_record_becomes_its_change() -> None:
    result = plan("update")
    mapping = default_mapping(ACCOUNT)
    assert fields_to_reread(result, mapping) == ["Description"]
    assert fields_to_reread(plan("update", diffFields=["Unmapped__c"], changedFields=["Unmapped__c"]), mapping) == []
    record = {"attributes": {"type": "Account"}, "Id": A, "Description": "Preferred carrier since 2018."}
    change = with_reread_fields(result.changes[0], record, ["Description"])
    assert change.values["Description"] == "Preferred carrier since 2018." and change.values["Phone"]
    assert with_reread_fields(result.changes[0], None, ["Description"]) == result.changes[0]  # gone: its delete follows

    gap = plan("gap_update")
    fields = imported_field_names(mapping)
    assert "Hub_Id__c" in fields and "Name" in fields
    read = {"Id": A, "Name": "Van Dijk", "Phone": None, "SystemModstamp": "2026-12-01T16:40:00.000+0000"}
    upsert = change_from_reread(gap, A, read, fields)
    assert (upsert.operation, upsert.values, upsert.cleared_fields) == (
        ChangeOperation.UPSERT,
        {"Name": "Van Dijk"},
        ["Phone"],
    )
    assert upsert.stamp == datetime(2026, 12, 1, 16, 40, tzinfo=UTC)  # read later than the commit: its modstamp
    gone = change_from_reread(gap, B, None, fields)
    assert (gone.operation, gone.values, gone.stamp) == (ChangeOperation.DELETE, {}, gap.header.stamp)
    undelete = change_from_reread(plan("gap_update", changeType="GAP_UNDELETE"), A, read, fields)
    assert undelete.operation is ChangeOperation.UNDELETE


def test_the_read_query_takes_only_checked_names_and_ids() -> None:
    assert record_soql("Account", ["Name", "Description"], [A, B]) == (
        f"SELECT Id, Name, Description FROM Account WHERE Id IN ('{A}', '{B}')"
    )
    with pytest.raises(ValueError, match="not a Salesforce name or id"):
        record_soql("Account", ["Name"], ["001' OR Name != '"])
    with pytest.raises(ValueError, match="not a Salesforce name or id"):
        record_soql("Account", ["Name FROM User --"], [A])


def test_an_event_without_its_header_or_with_an_unknown_change_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        ChangeEventPayload.model_validate({"Name": "x"})
    with pytest.raises(ValidationError):
        payload("update", changeType="SNAPSHOT")
