"""The one change model both directions speak, and the one place that picks its FIFO queue ids.

Producers (the outbound-message webhook, the change-event consumer, the stream exporter, the scheduler,
admin actions) each turn what they see into a `Change`; the worker applies it. An export change says only
"this record needs exporting" at a version (the worker sends the record's current state); an import change
carries Salesforce's field values with the stamp of each, so the merge can keep the newest per field.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sync_core.domain.entities import EntityName

# SQS FIFO limits: MessageGroupId and MessageDeduplicationId are at most 128 characters.
FIFO_ID_MAX_LENGTH = 128


class ChangeDirection(StrEnum):
    TO_SALESFORCE = "to Salesforce"
    FROM_SALESFORCE = "from Salesforce"


class ChangeOperation(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"
    UNDELETE = "undelete"


class ChangeSource(StrEnum):
    OUTBOUND_MESSAGE = "outbound message"
    CHANGE_EVENT = "change event"
    STREAM = "stream"  # the records table's stream: a hub write to export
    SCHEDULE = "schedule"  # a scheduled pull or push
    ADMIN = "admin"  # an administrator's resync or retry
    RESOLUTION = "conflict resolution"  # an administrator settled a conflict: the Salesforce values they chose win


class Change(BaseModel):
    """One change of one record, in either direction."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    direction: ChangeDirection
    entity: EntityName
    hub_id: str | None = None
    salesforce_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")
    operation: ChangeOperation = ChangeOperation.UPSERT
    source: ChangeSource
    change_id: str = Field(
        min_length=1,
        max_length=512,
        description="Dedup key: transactionKey:sequenceNumber, the outbound notification id, "
        "salesforce id@SystemModstamp for pulls, hub id@version for exports",
    )
    stamp: AwareDatetime = Field(
        description="SystemModstamp or commitTimestamp: when Salesforce (or the hub) changed it"
    )
    record_version: int | None = Field(default=None, ge=1, description="Exports: the hub version that asked for it")
    values: dict[str, Any] = Field(default_factory=dict, description="Salesforce field -> value (imports)")
    cleared_fields: list[str] = Field(default_factory=list, description="Fields the change set to null")
    field_stamps: dict[str, AwareDatetime] = Field(
        default_factory=dict, description="A field's own stamp where it differs from the change's"
    )
    requeued: int = Field(
        default=0,
        ge=0,
        description="How often the engine queued this change again after it waited (parked) for a link: a new "
        "deduplication id each time, so SQS does not drop it as a repeat of the first delivery",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Change:
        if self.direction is ChangeDirection.TO_SALESFORCE:
            if self.hub_id is None or self.record_version is None:
                raise ValueError("an export names the hub record and its version")
            if self.values or self.cleared_fields:
                raise ValueError("an export carries no values: the worker sends the record's current state")
        elif self.salesforce_id is None:
            raise ValueError("an import names the Salesforce record")
        if self.operation is ChangeOperation.DELETE and (self.values or self.cleared_fields):
            raise ValueError("a delete carries no fields")
        both = sorted(set(self.values) & set(self.cleared_fields))
        if both:
            raise ValueError(f"fields both set and cleared: {', '.join(both)}")
        unknown = sorted(set(self.field_stamps) - set(self.changed_fields))
        if unknown:
            raise ValueError(f"stamps for fields the change does not carry: {', '.join(unknown)}")
        return self

    @property
    def changed_fields(self) -> list[str]:
        """Every field the change names: set to a value, or cleared."""
        return [*self.values, *self.cleared_fields]

    def value_of(self, field: str) -> Any:
        return None if field in self.cleared_fields else self.values.get(field)

    def stamp_of(self, field: str) -> datetime:
        return self.field_stamps.get(field, self.stamp)

    @property
    def record_key(self) -> str:
        """The record the change is about, as the side it comes from names it."""
        if self.direction is ChangeDirection.TO_SALESFORCE:
            return f"hub:{self.hub_id}"
        return f"sf:{self.salesforce_id}"

    @property
    def message_group_id(self) -> str:
        """One FIFO group per record and direction: one record's changes apply in order, records in parallel."""
        group = f"{self.entity.value}#{self.record_key}"
        return group if len(group) <= FIFO_ID_MAX_LENGTH else _digest(group)

    @property
    def deduplication_id(self) -> str:
        """Equal for redeliveries of one change. Exports include the version: a later edit is a new export,
        never swallowed by SQS's five-minute deduplication window."""
        version = f"@v{self.record_version}" if self.direction is ChangeDirection.TO_SALESFORCE else ""
        again = f"#requeued{self.requeued}" if self.requeued else ""
        return _digest(
            f"{self.direction.value}|{self.entity.value}|{self.record_key}|{self.operation.value}|"
            f"{self.change_id}{version}{again}"
        )

    def queued_again(self) -> Change:
        """This change, to be queued once more after it waited (see `requeued`)."""
        return self.model_copy(update={"requeued": self.requeued + 1})


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()  # 64 characters, within FIFO's 128


def export_change(
    entity: EntityName, hub_id: str, record_version: int, *, source: ChangeSource, stamp: datetime
) -> Change:
    """The change that asks for a hub record to be exported at (at least) this version."""
    return Change(
        direction=ChangeDirection.TO_SALESFORCE,
        entity=entity,
        hub_id=hub_id,
        record_version=record_version,
        source=source,
        change_id=f"{hub_id}@{record_version}",
        stamp=stamp,
    )
