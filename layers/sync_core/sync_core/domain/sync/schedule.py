"""Scheduled sync, the pure part: when an entity's schedule is due, what a pull asks Salesforce, and the change
each pulled row becomes.

Due-ness works in slots: a schedule fires at fixed moments (every N minutes from midnight UTC; daily at HH:MM;
weekly on a weekday at HH:MM) and an entity is due when its last run is older than the latest moment its
schedule fired. A tick that comes late (or a missed one) therefore runs the entity once, never several times,
and an entity never run is due at once (its first pull sets the watermark).

A pull asks `queryAll` (deleted rows included) for the rows whose SystemModstamp is at or after the watermark
less the overlap window, ordered by it: a commit whose stamp is earlier than one already seen but that became
visible later is still caught, and the overlap's repeats are no-ops in the engine (same change id within SQS's
deduplication window; the same stamps and values after it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.salesforce import SObjectDescription
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource
from sync_core.domain.sync.mapping import EntityMapping
from sync_core.domain.sync.policy import SyncMode
from sync_core.domain.sync.transforms import parse_salesforce_datetime
from sync_core.domain.sync_config import EntitySyncConfig, Schedule, ScheduleKind
from sync_core.domain.sync_state import SyncState, SyncStatus

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Fields every pull reads whatever the mapping: the row's id, its stamp, and whether it was deleted.
BOOKKEEPING_FIELDS = ("Id", "SystemModstamp", "IsDeleted")
# Bulk API 2.0 CSV types that are not text (describe's field types).
_BOOLEAN_TYPES = frozenset({"boolean"})
_INTEGER_TYPES = frozenset({"int", "long"})
_DECIMAL_TYPES = frozenset({"double", "currency", "percent"})
EXPORT_SIDE = "#to Salesforce#"  # how an error-log id names an export failure (domain.error_log.error_id)


class RunReason(StrEnum):
    SCHEDULE = "schedule"
    PULL_REQUEST = "pull request"
    CATCHING_UP = "catching up"  # the last run stopped at its limit: the rest follows at the next tick
    SYNC_NOW = "sync now"  # an administrator's run (run_entity)


def _hour_minute(schedule: Schedule) -> tuple[int, int]:
    assert schedule.at is not None  # Schedule's validator: daily and weekly schedules have `at`
    hours, minutes = schedule.at.split(":")
    return int(hours), int(minutes)


def latest_slot(schedule: Schedule, now: datetime) -> datetime:
    """The latest moment at or before `now` at which the schedule fires (UTC)."""
    now = now.astimezone(UTC)
    if schedule.kind is ScheduleKind.RATE:
        assert schedule.every_minutes is not None
        period = timedelta(minutes=schedule.every_minutes)
        return _EPOCH + ((now - _EPOCH) // period) * period
    hour, minute = _hour_minute(schedule)
    slot = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if schedule.kind is ScheduleKind.DAILY:
        return slot if slot <= now else slot - timedelta(days=1)
    assert schedule.weekday is not None
    slot -= timedelta(days=(now.weekday() - schedule.weekday) % 7)
    return slot if slot <= now else slot - timedelta(days=7)


def next_slot(schedule: Schedule, now: datetime) -> datetime:
    """The first moment after `now` at which the schedule fires."""
    latest = latest_slot(schedule, now)
    if schedule.kind is ScheduleKind.RATE:
        assert schedule.every_minutes is not None
        return latest + timedelta(minutes=schedule.every_minutes)
    return latest + timedelta(days=1 if schedule.kind is ScheduleKind.DAILY else 7)


def schedule_due(schedule: Schedule, last_run: datetime | None, now: datetime) -> bool:
    """Whether a run is owed: never run, or last run before the latest moment the schedule fired."""
    return last_run is None or last_run < latest_slot(schedule, now)


@dataclass(frozen=True)
class EntityRun:
    """What the scheduler remembers of an entity between runs."""

    entity: EntityName
    watermark: datetime | None = None  # SystemModstamp of the newest pulled change that was queued
    last_run: datetime | None = None  # when its last run finished (a run that stopped early leaves it)
    catching_up: bool = False  # the last run stopped at a limit with more to pull


def run_reason(
    config: EntitySyncConfig, run: EntityRun | None, *, pull_requested: bool, now: datetime
) -> RunReason | None:
    """Why the entity runs at this tick, if it does: a stopped entity never does; an entity that neither imports
    nor exports has nothing to do; a pull request is honoured whether or not the entity has a schedule."""
    if not (config.imports or config.exports):
        return None
    if run is not None and run.catching_up:
        return RunReason.CATCHING_UP
    if pull_requested and config.imports:
        return RunReason.PULL_REQUEST
    scheduled = config.schedule is not None and config.mode is not SyncMode.REAL_TIME
    if scheduled and config.schedule and schedule_due(config.schedule, run.last_run if run else None, now):
        return RunReason.SCHEDULE
    return None


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal, to the whole second below (the overlap covers the fraction)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pull_fields(mapping: EntityMapping, extra: Sequence[str] = ()) -> list[str]:
    """The fields a pull reads: the bookkeeping ones, the external id, every field the mapping imports, and
    `extra` (a first load's matching fields)."""
    names = [*BOOKKEEPING_FIELDS, mapping.external_id_field, *extra]
    names += [target for item in mapping.field_mapping if item.direction.imports for target in item.targets]
    names += [reference.salesforce_field for reference in mapping.references if reference.direction.imports]
    seen: set[str] = set()
    unique: list[str] = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            unique.append(name)
    return unique


def pull_soql(
    mapping: EntityMapping,
    *,
    since: datetime | None,
    filters: str | None,
    ordered: bool = True,
    extra: Sequence[str] = (),
) -> str:
    """The pull's query: rows changed at or after `since` (all rows without one), within the entity's filters.
    Bulk API 2.0 queries go unordered (ORDER BY defeats its chunking): the service sorts their rows itself."""
    conditions = [f"SystemModstamp >= {soql_datetime(since)}"] if since is not None else []
    if filters:
        conditions.append(f"({filters})")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = " ORDER BY SystemModstamp ASC" if ordered else ""
    return f"SELECT {', '.join(pull_fields(mapping, extra))} FROM {mapping.salesforce_object}{where}{order}"


def pull_start(watermark: datetime | None, requested_since: datetime | None, *, overlap: timedelta) -> datetime | None:
    """Where a pull starts: the earlier of the watermark and a pull request's moment, less the overlap; None (every
    row) when the entity was never pulled and no request narrows it."""
    candidates = [moment for moment in (watermark, requested_since) if moment is not None]
    return min(candidates) - overlap if candidates else None


def row_stamp(row: Mapping[str, Any]) -> datetime:
    return parse_salesforce_datetime(str(row["SystemModstamp"]))


def typed_bulk_row(row: Mapping[str, str], description: SObjectDescription) -> dict[str, Any]:
    """A Bulk API 2.0 CSV row with the values REST would give: empty is null, booleans and numbers typed by the
    object's describe (text, dates and picklists stay text)."""
    typed: dict[str, Any] = {}
    for name, text in row.items():
        described = description.field(name)
        kind = described.type if described else "string"
        if text == "":
            typed[name] = None
        elif kind in _BOOLEAN_TYPES:
            typed[name] = text.lower() == "true"
        elif kind in _INTEGER_TYPES:
            typed[name] = int(float(text))
        elif kind in _DECIMAL_TYPES:
            number = float(text)
            typed[name] = int(number) if number.is_integer() else number
        else:
            typed[name] = text
    return typed


def pulled_change(row: Mapping[str, Any], entity: EntityName) -> Change:
    """The engine's change for one pulled row: its full state (a null field is cleared), or its delete. The change
    id is `<Salesforce id>@<SystemModstamp>`: the overlap's repeats carry the same id."""
    salesforce_id = str(row["Id"])
    stamp = row_stamp(row)
    change_id = f"{salesforce_id}@{stamp.isoformat()}"
    if row.get("IsDeleted") in (True, "true"):
        return Change(
            direction=ChangeDirection.FROM_SALESFORCE,
            entity=entity,
            salesforce_id=salesforce_id,
            operation=ChangeOperation.DELETE,
            source=ChangeSource.SCHEDULE,
            change_id=change_id,
            stamp=stamp,
        )
    skip = {name.lower() for name in BOOKKEEPING_FIELDS} | {"attributes"}
    fields = {name: value for name, value in row.items() if name.lower() not in skip}
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=entity,
        salesforce_id=salesforce_id,
        source=ChangeSource.SCHEDULE,
        change_id=change_id,
        stamp=stamp,
        values={name: value for name, value in fields.items() if value is not None},
        cleared_fields=sorted(name for name, value in fields.items() if value is None),
    )


def due_for_push(state: SyncState) -> bool:
    """Whether a scheduled run exports the record: Modified Locally, or in Error because of an export (every open
    error-log entry is on the export side). An import's failure or a conflict held for a person is not the
    export's to retry: pushing the hub's side over it would decide what a person must."""
    if state.status is SyncStatus.MODIFIED_LOCALLY:
        return True
    if state.status is SyncStatus.ERROR:
        return bool(state.open_errors) and all(EXPORT_SIDE in error for error in state.open_errors)
    return False


def through_stamp_group(rows: Sequence[Mapping[str, Any]], limit: int) -> int:
    """How many of the stamp-ordered `rows` a run limited to `limit` takes: at least `limit`, and on to the end of
    the last stamp it takes, so the watermark always moves (many rows may share one SystemModstamp)."""
    if len(rows) <= limit:
        return len(rows)
    last = row_stamp(rows[limit - 1])
    count = limit
    while count < len(rows) and row_stamp(rows[count]) == last:
        count += 1
    return count
