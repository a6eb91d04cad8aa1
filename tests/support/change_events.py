"""Salesforce change events (Event Relay's JSON, as the emulator sends them) as the import gets them: through the
consumer's own mapping (sync_core.domain.sync.change_events), without a Salesforce read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.change_events import ChangeEventPayload, plan_change_event
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource


def change_from_event(event: dict[str, Any], entity: EntityName, record_index: int = 0) -> Change:
    """The change of the record at `record_index` of the event's recordIds (no changeOrigin is an echo here: the
    tests deliver the hub's own writes' events too, for the import's value-hash echo check)."""
    payload = ChangeEventPayload.model_validate(event["detail"]["payload"])
    plan = plan_change_event(payload, entity, hub_client_id="")
    assert not plan.reread_fields and not plan.reread_records, "this event needs a Salesforce read"
    return plan.changes[record_index]


def inbound_account_change(salesforce_id: str, change_id: str, stamp: datetime | None = None, **values: Any) -> Change:
    """A change event's change of an Account, as the sync queue carries it; by default stamped a little after now
    (newer than anything the test wrote before)."""
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=EntityName.ACCOUNT,
        salesforce_id=salesforce_id,
        source=ChangeSource.CHANGE_EVENT,
        change_id=change_id,
        stamp=stamp if stamp is not None else datetime.now(UTC) + timedelta(seconds=5),
        values=values,
    )
