"""The change model and its FIFO ids: one group per record and direction, dedup ids stable across redeliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import (
    FIFO_ID_MAX_LENGTH,
    Change,
    ChangeDirection,
    ChangeOperation,
    ChangeSource,
    export_change,
)

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
SF_ID = "003000000000001AAA"


def inbound(**overrides: Any) -> Change:
    data: dict[str, Any] = {
        "direction": ChangeDirection.FROM_SALESFORCE,
        "entity": EntityName.CONTACT,
        "salesforce_id": SF_ID,
        "source": ChangeSource.CHANGE_EVENT,
        "change_id": "txn-1:1",
        "stamp": T0,
        "values": {"LastName": "Byron"},
        "cleared_fields": ["Email"],
    }
    return Change.model_validate({**data, **overrides})


def test_changed_and_cleared_fields_and_their_stamps() -> None:
    change = inbound(field_stamps={"Email": T0 - timedelta(seconds=1)})
    assert change.changed_fields == ["LastName", "Email"]
    assert (change.value_of("LastName"), change.value_of("Email")) == ("Byron", None)
    assert (change.stamp_of("LastName"), change.stamp_of("Email")) == (T0, T0 - timedelta(seconds=1))


def test_a_redelivery_has_the_same_ids_and_another_change_another_dedup_id() -> None:
    first, again = inbound(), inbound(source=ChangeSource.CHANGE_EVENT)
    assert (first.message_group_id, first.deduplication_id) == (again.message_group_id, again.deduplication_id)
    other = inbound(change_id="txn-1:2")
    assert other.message_group_id == first.message_group_id  # same record: same group, applied in order
    assert other.deduplication_id != first.deduplication_id
    assert inbound(salesforce_id="003000000000002AAA").message_group_id != first.message_group_id


def test_exports_dedupe_by_version_so_a_later_edit_is_never_swallowed() -> None:
    v3 = export_change(EntityName.ACCOUNT, "ACC-000001", 3, source=ChangeSource.STREAM, stamp=T0)
    v3_again = export_change(EntityName.ACCOUNT, "ACC-000001", 3, source=ChangeSource.STREAM, stamp=T0)
    v4 = export_change(EntityName.ACCOUNT, "ACC-000001", 4, source=ChangeSource.STREAM, stamp=T0)
    assert v3.deduplication_id == v3_again.deduplication_id != v4.deduplication_id
    assert v3.message_group_id == v4.message_group_id == "Account#hub:ACC-000001"


def test_fifo_ids_fit_sqs_limits() -> None:
    change = export_change(EntityName.CONTRACT_USAGE, "X" * 64, 1, source=ChangeSource.ADMIN, stamp=T0)
    assert len(change.message_group_id) <= FIFO_ID_MAX_LENGTH and len(change.deduplication_id) <= FIFO_ID_MAX_LENGTH


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"salesforce_id": None}, "an import names the Salesforce record"),
        ({"operation": ChangeOperation.DELETE}, "a delete carries no fields"),
        ({"values": {"Email": "a@b.c"}}, "fields both set and cleared: Email"),
        ({"field_stamps": {"Phone": T0}}, "stamps for fields the change does not carry: Phone"),
        ({"stamp": datetime(2026, 3, 1)}, "timezone"),
        ({"salesforce_id": "not-an-id"}, "should match pattern"),
    ],
)
def test_inconsistent_changes_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        inbound(**overrides)


def test_an_export_names_the_hub_record_and_carries_no_values() -> None:
    with pytest.raises(ValidationError, match="an export names the hub record and its version"):
        Change(
            direction=ChangeDirection.TO_SALESFORCE, entity=EntityName.ACCOUNT, source=ChangeSource.STREAM,
            change_id="x", stamp=T0,
        )  # fmt: skip
    with pytest.raises(ValidationError, match="an export carries no values"):
        Change(
            direction=ChangeDirection.TO_SALESFORCE, entity=EntityName.ACCOUNT, hub_id="ACC-1", record_version=1,
            source=ChangeSource.STREAM, change_id="x", stamp=T0, values={"Name": "A"},
        )  # fmt: skip
