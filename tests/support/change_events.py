"""Salesforce change events (Event Relay's JSON, as the emulator sends them) as the import gets them: through the
consumer's own mapping (sync_core.domain.sync.change_events), without a Salesforce read."""

from __future__ import annotations

from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.change_events import ChangeEventPayload, plan_change_event
from sync_core.domain.sync.changes import Change


def change_from_event(event: dict[str, Any], entity: EntityName, record_index: int = 0) -> Change:
    """The change of the record at `record_index` of the event's recordIds (no changeOrigin is an echo here: the
    tests deliver the hub's own writes' events too, for the import's value-hash echo check)."""
    payload = ChangeEventPayload.model_validate(event["detail"]["payload"])
    plan = plan_change_event(payload, entity, hub_client_id="")
    assert not plan.reread_fields and not plan.reread_records, "this event needs a Salesforce read"
    return plan.changes[record_index]
