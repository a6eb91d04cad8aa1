"""Per-entity sync configuration: what syncs, in which direction, how often, and how fields map.

Checked when saved by sync_core.domain.sync.config (every mistake with its path)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sync_core.domain.cases.salesforce_case import CaseSalesforceSettings
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.mapping import EntityMapping
from sync_core.domain.sync.policy import ConflictPolicy, DeletePolicy, HubDeletePolicy, SyncDirection, SyncMode
from sync_core.domain.sync_state import default_export_scenario, default_import_scenario

__all__ = [
    "ConflictPolicy",
    "DeletePolicy",
    "EntitySyncConfig",
    "HubDeletePolicy",
    "ProcessStatus",
    "Schedule",
    "ScheduleKind",
    "SyncDirection",
    "SyncMode",
]

# Entities only the hub creates (a case's release makes them): exported only, and stopped until the
# custom objects they map to exist in the org. Every other entity syncs from a fresh install.
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
EXPORT_ONLY_ENTITIES = frozenset({EntityName.INVOICE, EntityName.CONTRACT_USAGE})


class ProcessStatus(StrEnum):
    """Acumatica's Process / Stop: whether real-time sync of the entity runs."""

    ACTIVE = "Active"
    STOPPED = "Stopped"


class ScheduleKind(StrEnum):
    RATE = "rate"
    DAILY = "daily"
    WEEKLY = "weekly"


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ScheduleKind
    every_minutes: int | None = Field(default=None, ge=1, le=1440, description="For kind=rate")
    at: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM UTC, daily/weekly")
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 = Monday, for kind=weekly")

    @model_validator(mode="after")
    def _fields_match_kind(self) -> Schedule:
        if self.kind is ScheduleKind.RATE and self.every_minutes is None:
            raise ValueError("a rate schedule needs every_minutes")
        if self.kind is not ScheduleKind.RATE and self.at is None:
            raise ValueError(f"a {self.kind.value} schedule needs at (HH:MM)")
        if self.kind is ScheduleKind.WEEKLY and self.weekday is None:
            raise ValueError("a weekly schedule needs weekday")
        return self


class EntitySyncConfig(BaseModel):
    """The row of the entity table in sync administration; unset fields take the entity's defaults."""

    model_config = ConfigDict(extra="forbid")

    entity: EntityName
    status: ProcessStatus = Field(
        default=ProcessStatus.ACTIVE, description="Default Active; Stopped for the export-only Invoice, ContractUsage"
    )
    import_enabled: bool = True
    export_enabled: bool = True
    import_scenario: str = ""
    export_scenario: str = ""
    direction: SyncDirection = Field(default=SyncDirection.BOTH, description="Default to Salesforce for export-only")
    mode: SyncMode = SyncMode.BOTH
    schedule: Schedule | None = None
    filters: str | None = Field(default=None, max_length=4000, description="SOQL WHERE clause for pulls")
    create_only: bool = False
    sync_only_linked: bool = False
    conflict_policy: ConflictPolicy = ConflictPolicy.NEWEST_WINS
    delete_policy: DeletePolicy = Field(
        default=DeletePolicy.UNLINK, description="What a delete in Salesforce does to the hub record"
    )
    hub_delete_policy: HubDeletePolicy = Field(
        default=HubDeletePolicy.UNLINK,
        description="What a delete in the hub does to the linked Salesforce record (a delete the sync applied from "
        "Salesforce is never sent back)",
    )
    mapping: EntityMapping | None = Field(default=None, description="None: the entity's default mapping")
    outbound_fields: list[str] | None = Field(
        default=None,
        max_length=500,
        description="The fields the entity's Salesforce outbound message sends (its field list in Setup). "
        "Salesforce leaves a null field out of the message, so a listed field that is not sent is cleared in the "
        "hub; unset, only fields sent as xsi:nil are. List SystemModstamp (or LastModifiedDate) so a late "
        "redelivery never rolls a field back.",
    )
    case: CaseSalesforceSettings | None = Field(
        default=None,
        description="Case only: the status map (hub status and reason <-> Case Status) and the owner map; "
        "None: the defaults, which fit a new org (docs/cases.md)",
    )
    matching_fields: list[str] | None = Field(
        default=None,
        max_length=10,
        description="Hub fields (dotted paths, each mapped to one Salesforce field) a first load matches records by "
        "after the external id; unset: email for contacts and leads, name and billing_address.city for accounts, "
        "product_code for products, none for the others",
    )
    watermark: datetime | None = Field(
        default=None,
        description="Unused: the scheduled sync keeps each entity's watermark with its lease in the sync state table "
        "(SCHEDULE/<entity>), where a saved configuration cannot overwrite it",
    )
    updated_at: datetime | None = None
    version: int = Field(
        default=0, ge=0, description="Counts the saved versions (sync administration); 0: never saved there"
    )
    updated_by: str | None = Field(default=None, description="Who saved this version")

    @field_validator("outbound_fields")
    @classmethod
    def _field_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        seen: set[str] = set()
        for name in value:
            if not _FIELD_NAME.match(name):
                raise ValueError(f"{name!r} is not a Salesforce field name")
            if name.lower() in seen:
                raise ValueError(f"{name} is listed twice")
            seen.add(name.lower())
        return value

    @model_validator(mode="after")
    def _default_scenarios(self) -> EntitySyncConfig:
        # An "after" validator, not a "before" one: those make pydantic validate JSON as Python, which refuses
        # ISO datetimes in strict mode (the API checks bodies strictly).
        if self.entity in EXPORT_ONLY_ENTITIES:
            if "status" not in self.model_fields_set:
                self.status = ProcessStatus.STOPPED
            if "direction" not in self.model_fields_set:
                self.direction = SyncDirection.TO_SALESFORCE
        if not self.import_scenario:
            self.import_scenario = default_import_scenario(self.entity)
        if not self.export_scenario:
            self.export_scenario = default_export_scenario(self.entity)
        return self

    @property
    def exports(self) -> bool:
        """Whether hub writes of the entity queue an export."""
        return self.status is ProcessStatus.ACTIVE and self.export_enabled and self.direction.exports

    @property
    def case_settings(self) -> CaseSalesforceSettings:
        """The Case settings in force: the configured ones, or the defaults."""
        return self.case or CaseSalesforceSettings()

    @property
    def imports(self) -> bool:
        return self.status is ProcessStatus.ACTIVE and self.import_enabled and self.direction.imports

    @property
    def holds_imports(self) -> bool:
        """Stopped, but it imports when processed: changes arriving meanwhile are held, not dropped."""
        return self.status is ProcessStatus.STOPPED and self.import_enabled and self.direction.imports

    @property
    def holds_exports(self) -> bool:
        """Stopped, but it exports when processed: hub writes meanwhile stay Modified Locally until then."""
        return self.status is ProcessStatus.STOPPED and self.export_enabled and self.direction.exports
