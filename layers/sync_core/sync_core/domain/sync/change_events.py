"""Salesforce Change Data Capture events (as Event Relay puts them on EventBridge) as the engine's changes.

Only the change event itself is read: EventBridge's `detail.payload`, a `ChangeEventHeader` plus the body
fields (research/salesforce-facts.md, section b). The rules, all pure:
- CREATE, UPDATE, DELETE, UNDELETE become one change per record the event names (`recordIds`: one commit that
  changed several records alike is one event). Compound fields are flattened (BillingAddress.City ->
  BillingCity, Name.LastName -> LastName); nulls are cleared fields; the stamp is the commit's
  (`commitTimestamp`, epoch milliseconds); the change id is `transactionKey:sequenceNumber`, the same for each
  redelivery of the event, so the FIFO queue and the engine's merge make a duplicate a no-op.
- An UPDATE carries only the fields `changedFields` names (the body may hold every field, null when unchanged,
  as Pub/Sub's Avro events do): `nulledFields` are cleared, and a field in `diffFields` holds a diff of a long
  text, not its value, so it is re-read through the REST API (as is a changed field the body leaves out).
- GAP_CREATE, GAP_UPDATE, GAP_DELETE, GAP_UNDELETE name records only: they are re-read whole (a record that is
  gone is deleted). GAP_OVERFLOW names none: the entity is pulled from its watermark (a pull request); so is an
  event whose record ids are a wildcard (`001*`, some field type conversions).
- An event whose `changeOrigin` carries `client=<the hub's client id>` is the hub's own write coming back: it
  is dropped. Any other origin is a real change (the import's value-hash echo check stays the safety net).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource
from sync_core.domain.sync.mapping import EntityMapping

SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ChangeType(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"
    GAP_CREATE = "GAP_CREATE"
    GAP_UPDATE = "GAP_UPDATE"
    GAP_DELETE = "GAP_DELETE"
    GAP_UNDELETE = "GAP_UNDELETE"
    GAP_OVERFLOW = "GAP_OVERFLOW"

    @property
    def is_gap(self) -> bool:
        return self.value.startswith("GAP_")


_OPERATIONS = {
    ChangeType.CREATE: ChangeOperation.UPSERT,
    ChangeType.UPDATE: ChangeOperation.UPSERT,
    ChangeType.DELETE: ChangeOperation.DELETE,
    ChangeType.UNDELETE: ChangeOperation.UNDELETE,
}


class ChangeEventHeader(BaseModel):
    """The header of a change event (Change Data Capture Developer Guide, "ChangeEventHeader Fields")."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    entity_name: str = Field(min_length=1, max_length=255)
    record_ids: list[str] = Field(default_factory=list)
    change_type: ChangeType
    change_origin: str | None = None
    transaction_key: str = Field(min_length=1, max_length=255)
    sequence_number: int = Field(ge=0)
    commit_timestamp: int = Field(ge=0, description="Epoch milliseconds")
    commit_number: int | None = None
    commit_user: str | None = None
    changed_fields: list[str] = Field(default_factory=list)
    nulled_fields: list[str] = Field(default_factory=list)
    diff_fields: list[str] = Field(default_factory=list)

    @property
    def stamp(self) -> datetime:
        """The commit's time, to the millisecond (integer arithmetic: no float rounding)."""
        return _EPOCH + timedelta(milliseconds=self.commit_timestamp)

    @property
    def change_id(self) -> str:
        return f"{self.transaction_key}:{self.sequence_number}"


class ChangeEventPayload(BaseModel):
    """EventBridge's `detail.payload`: the header and the body fields (kept as sent, in `fields`)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    header: ChangeEventHeader = Field(alias="ChangeEventHeader")

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def flat_name(path: str) -> str:
    """A body field's name as a record has it: a compound's component loses the group's name, and an address
    keeps its prefix (BillingAddress.City -> BillingCity, Name.LastName -> LastName, Address.City -> City)."""
    group, _, part = path.partition(".")
    if not part:
        return group
    prefix = group.removesuffix("Address") if group.endswith("Address") else ""
    return prefix + part


def flat_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body with compound fields (nested objects) flattened into their component fields."""
    flat: dict[str, Any] = {}
    for name, value in body.items():
        if isinstance(value, dict):
            flat.update({flat_name(f"{name}.{part}"): item for part, item in value.items()})
        else:
            flat[name] = value
    return flat


def is_hub_echo(change_origin: str | None, hub_client_id: str) -> bool:
    """True when the change was made by a caller that set `Sforce-Call-Options: client=<hub_client_id>`:
    changeOrigin reads `com/salesforce/api/rest/62.0;client=SyncHub`. Matched whole: client=SyncHub2 is not us."""
    if not change_origin or not hub_client_id:
        return False
    return any(part.strip() == f"client={hub_client_id}" for part in change_origin.split(";"))


@dataclass(frozen=True)
class EventPlan:
    """What one change event asks of the consumer, before any Salesforce read."""

    entity: EntityName
    header: ChangeEventHeader
    changes: list[Change] = field(default_factory=list)  # ready to queue (a diff field still to be read)
    reread_fields: list[str] = field(default_factory=list)  # to read for each record of `changes`
    reread_records: list[str] = field(default_factory=list)  # gap events: records to read whole
    pull_reason: str | None = None  # the entity is to be pulled from its watermark
    echo: bool = False


def _change(header: ChangeEventHeader, entity: EntityName, salesforce_id: str, **fields: Any) -> Change:
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=entity,
        salesforce_id=salesforce_id,
        source=ChangeSource.CHANGE_EVENT,
        change_id=header.change_id,
        stamp=header.stamp,
        **fields,
    )


def _update_fields(payload: ChangeEventPayload) -> tuple[dict[str, Any], list[str], list[str]]:
    """An UPDATE's (values, cleared, to re-read): only the fields the header names."""
    header = payload.header
    body = flat_body(payload.fields)
    changed = [flat_name(name) for name in header.changed_fields] or list(body)  # older events: the body's keys
    nulled = {flat_name(name) for name in header.nulled_fields}
    diffed = {flat_name(name) for name in header.diff_fields}
    values: dict[str, Any] = {}
    cleared: list[str] = []
    reread: list[str] = []
    for name in dict.fromkeys(changed):  # in order, once
        if name in diffed or (name not in nulled and name not in body):
            reread.append(name)
        elif name in nulled or body[name] is None:
            cleared.append(name)
        else:
            values[name] = body[name]
    return values, cleared, reread


def plan_change_event(payload: ChangeEventPayload, entity: EntityName, *, hub_client_id: str) -> EventPlan:
    """The changes a change event makes, and what is left to read or pull (see the module's rules)."""
    header = payload.header
    if is_hub_echo(header.change_origin, hub_client_id):
        return EventPlan(entity, header, echo=True)
    ids = list(dict.fromkeys(header.record_ids))
    if header.change_type is ChangeType.GAP_OVERFLOW:
        return EventPlan(entity, header, pull_reason=f"GAP_OVERFLOW {header.change_id}: changes too many to send")
    unreadable = [record_id for record_id in ids if not SALESFORCE_ID.match(record_id)]
    if unreadable or not ids:
        reason = f"{header.change_type.value} {header.change_id} names records by {unreadable or 'nothing'}"
        return EventPlan(entity, header, pull_reason=reason)
    if header.change_type.is_gap:
        return EventPlan(entity, header, reread_records=ids)
    operation = _OPERATIONS[header.change_type]
    values: dict[str, Any] = {}
    cleared: list[str] = []
    reread: list[str] = []
    if header.change_type is ChangeType.UPDATE:
        values, cleared, reread = _update_fields(payload)
    elif operation is not ChangeOperation.DELETE:  # CREATE, UNDELETE: the record's non-empty fields
        body = flat_body(payload.fields)
        values = {name: value for name, value in body.items() if value is not None}
        cleared = [name for name, value in body.items() if value is None]
    changes = [
        _change(header, entity, record_id, operation=operation, values=values, cleared_fields=cleared)
        for record_id in ids
    ]
    return EventPlan(entity, header, changes=changes, reread_fields=reread)


def imported_field_names(mapping: EntityMapping) -> list[str]:
    """The Salesforce fields an import of this entity reads (as the mapping spells them), its external id too."""
    names = [target for item in mapping.field_mapping if item.direction.imports for target in item.targets]
    names += [reference.salesforce_field for reference in mapping.references if reference.direction.imports]
    names.append(mapping.external_id_field)
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return sorted(seen.values(), key=str.lower)


def fields_to_reread(plan: EventPlan, mapping: EntityMapping) -> list[str]:
    """The plan's fields to read that the import uses (a diff of a field the hub does not map costs no call)."""
    wanted = mapping.imported_fields
    return [name for name in plan.reread_fields if name.lower() in wanted and FIELD_NAME.match(name)]


def record_soql(sobject: str, fields: Iterable[str], record_ids: Iterable[str]) -> str:
    """SELECT the fields of these records by id (ids and names checked: nothing else reaches the query)."""
    names = list(dict.fromkeys(["Id", *fields]))
    ids = list(record_ids)
    bad = [name for name in [sobject, *names] if not FIELD_NAME.match(name)] + [
        record_id for record_id in ids if not SALESFORCE_ID.match(record_id)
    ]
    if bad:
        raise ValueError(f"not a Salesforce name or id: {', '.join(bad)}")
    quoted = ", ".join(f"'{record_id}'" for record_id in ids)
    return f"SELECT {', '.join(names)} FROM {sobject} WHERE Id IN ({quoted})"


def _read_values(record: Mapping[str, Any], fields: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    by_lower = {name.lower(): name for name in record if name != "attributes"}
    values: dict[str, Any] = {}
    cleared: list[str] = []
    for wanted in fields:
        name = by_lower.get(wanted.lower())
        if name is None or name == "Id":
            continue
        value = record[name]
        if isinstance(value, dict):  # a relationship or compound the query returned whole: not a field value
            continue
        if value is None:
            cleared.append(name)
        else:
            values[name] = value
    return values, cleared


def _same_id(a: str, b: str) -> bool:
    """A 15-character id is the 18-character one without its case checksum."""
    return a[:15] == b[:15]


def find_record(records: Mapping[str, Mapping[str, Any]], salesforce_id: str) -> Mapping[str, Any] | None:
    for record_id, record in records.items():
        if _same_id(record_id, salesforce_id):
            return record
    return None


def with_reread_fields(change: Change, record: Mapping[str, Any] | None, fields: list[str]) -> Change:
    """The change with its re-read fields' current values. A record that is gone keeps only what the event
    carried (its DELETE event follows)."""
    if record is None or not fields:
        return change
    values, cleared = _read_values(record, fields)
    return change.model_copy(
        update={
            "values": {**change.values, **values},
            "cleared_fields": [*change.cleared_fields, *(name for name in cleared if name not in change.values)],
        }
    )


def _modstamp(record: Mapping[str, Any]) -> datetime | None:
    raw = record.get("SystemModstamp")
    if not isinstance(raw, str):
        return None
    try:
        stamp = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def change_from_reread(
    plan: EventPlan, salesforce_id: str, record: Mapping[str, Any] | None, fields: list[str]
) -> Change:
    """A gap event's record as read now: its fields (GAP_UNDELETE: an undelete), or a delete when it is gone.
    Stamped with the later of the commit and the record's SystemModstamp: the state read is at least that new."""
    header = plan.header
    if record is None:
        return _change(header, plan.entity, salesforce_id, operation=ChangeOperation.DELETE)
    values, cleared = _read_values(record, fields)
    operation = ChangeOperation.UNDELETE if header.change_type is ChangeType.GAP_UNDELETE else ChangeOperation.UPSERT
    change = _change(header, plan.entity, salesforce_id, operation=operation, values=values, cleared_fields=cleared)
    modstamp = _modstamp(record)
    return change.model_copy(update={"stamp": modstamp}) if modstamp and modstamp > change.stamp else change
