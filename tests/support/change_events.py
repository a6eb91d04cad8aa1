"""Salesforce change events (Event Relay's JSON, as the emulator sends them) as the import gets them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource

_OPERATIONS = {
    "CREATE": ChangeOperation.UPSERT,
    "UPDATE": ChangeOperation.UPSERT,
    "DELETE": ChangeOperation.DELETE,
    "UNDELETE": ChangeOperation.UNDELETE,
}


def change_from_event(event: dict[str, Any], entity: EntityName, record_index: int = 0) -> Change:
    """A change event as the import gets it: compound fields flattened (BillingAddress.Street -> BillingStreet,
    Name.LastName -> LastName), nulls as cleared fields, the commit timestamp as the stamp. An event naming
    several records (one commit changing them alike) gives the change of the record at `record_index`."""
    payload = dict(event["detail"]["payload"])
    header = payload.pop("ChangeEventHeader")
    operation = _OPERATIONS[header["changeType"]]
    values: dict[str, Any] = {}
    if operation is not ChangeOperation.DELETE:
        for name, value in payload.items():
            if isinstance(value, dict):
                prefix = name.removesuffix("Address") if name.endswith("Address") else ""
                values.update({prefix + part: item for part, item in value.items()})
            else:
                values[name] = value
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=entity,
        salesforce_id=header["recordIds"][record_index],
        operation=operation,
        source=ChangeSource.CHANGE_EVENT,
        change_id=f"{header['transactionKey']}:{header['sequenceNumber']}",
        stamp=datetime.fromtimestamp(header["commitTimestamp"] / 1000, UTC),
        values={name: value for name, value in values.items() if value is not None},
        cleared_fields=[name for name, value in values.items() if value is None],
    )
