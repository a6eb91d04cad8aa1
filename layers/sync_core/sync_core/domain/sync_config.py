"""Per-entity sync configuration: what syncs, in which direction, how often, and how fields map."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sync_core.domain.entities import EntityName
from sync_core.domain.sync_state import default_export_scenario, default_import_scenario


class SyncDirection(StrEnum):
    TO_SALESFORCE = "to Salesforce"
    FROM_SALESFORCE = "from Salesforce"
    BOTH = "both"


class SyncMode(StrEnum):
    REAL_TIME = "real time"
    BATCH = "batch"
    BOTH = "both"


class ConflictPolicy(StrEnum):
    """What wins when both sides changed the same record since the last sync."""

    SALESFORCE_WINS = "Salesforce wins"
    HUB_WINS = "hub wins"
    NEWEST_WINS = "newest wins"
    MANUAL = "manual"  # the record goes to Error with both versions kept, for a person to decide


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


class FieldMapping(BaseModel):
    """One hub field to one Salesforce field; transforms are named, never code."""

    model_config = ConfigDict(extra="forbid")

    hub_field: str = Field(min_length=1, description="Dotted path, e.g. billing_address.city or custom_fields.Region")
    salesforce_field: str = Field(min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9_]*(__c)?$")
    direction: SyncDirection = SyncDirection.BOTH
    transform: str | None = Field(default=None, description="Named transform, e.g. upper, date, picklist:<map>")


class EntitySyncConfig(BaseModel):
    """The row of the entity table in sync administration."""

    model_config = ConfigDict(extra="forbid")

    entity: EntityName
    status: ProcessStatus = ProcessStatus.STOPPED
    import_enabled: bool = True
    export_enabled: bool = True
    import_scenario: str = ""
    export_scenario: str = ""
    direction: SyncDirection = SyncDirection.BOTH
    mode: SyncMode = SyncMode.BOTH
    schedule: Schedule | None = None
    filters: str | None = Field(default=None, max_length=4000, description="SOQL WHERE clause for pulls")
    create_only: bool = False
    sync_only_linked: bool = False
    conflict_policy: ConflictPolicy = ConflictPolicy.NEWEST_WINS
    field_mapping: list[FieldMapping] = Field(default_factory=list)
    watermark: datetime | None = Field(default=None, description="SystemModstamp of the last pulled change")
    updated_at: datetime | None = None

    @model_validator(mode="after")
    def _default_scenarios(self) -> EntitySyncConfig:
        if not self.import_scenario:
            self.import_scenario = default_import_scenario(self.entity)
        if not self.export_scenario:
            self.export_scenario = default_export_scenario(self.entity)
        return self
