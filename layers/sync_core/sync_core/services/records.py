"""Records use cases: create, read, update, delete and list hub records, and read their sync status."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from sync_core.domain.entities import (
    ENTITY_MODELS,
    EntityFields,
    EntityName,
    format_record_id,
    merge_fields,
)
from sync_core.domain.records import HubRecord, Page
from sync_core.domain.sync.transitions import SyncEvent
from sync_core.domain.sync_state import SyncState
from sync_core.errors import NotFoundError, OperationNotAllowedError, ValidationFailedError
from sync_core.ports.stores import Clock, RecordStore, SequenceStore, SyncStateStore
from sync_core.services.sync_writer import SyncWriter, user_write


def validate_fields(entity: EntityName, data: dict[str, Any]) -> dict[str, Any]:
    """Validate an entity's fields with its model; the stored form is the model's JSON form.

    Strict JSON validation: a value must already have the documented JSON type (no `false` taken as 0, no 0
    taken as a date), as the OpenAPI document says.
    """
    model = _writable_model(entity)
    try:
        fields: EntityFields = model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise ValidationFailedError(
            f"invalid {entity.value} fields",
            errors=[
                {"field": ".".join(str(part) for part in error["loc"]) or "(body)", "reason": error["msg"]}
                for error in exc.errors()
            ],
        ) from exc
    return fields.model_dump(mode="json", exclude_none=True)


def _writable_model(entity: EntityName) -> type[EntityFields]:
    model = ENTITY_MODELS.get(entity)
    if model is None:
        raise OperationNotAllowedError(
            f"{entity.value} records change only through their own API (/cases), so the case workflow applies"
        )
    return model


class RecordsService:
    """Hub records of every entity; every write leaves the record Modified Locally until a sync says otherwise.

    Reads come from the record store; writes go through the one write path (SyncWriter, actor USER)."""

    def __init__(
        self, records: RecordStore, states: SyncStateStore, sequences: SequenceStore, clock: Clock, writer: SyncWriter
    ) -> None:
        self._records = records
        self._states = states
        self._sequences = sequences
        self._clock = clock
        self._writer = writer

    def create_record(self, entity: EntityName, data: dict[str, Any], *, actor: str) -> HubRecord:
        fields = validate_fields(entity, data)
        now = self._clock.now()
        record_id = format_record_id(entity, self._sequences.next_value(f"record#{entity.value}"))
        record = HubRecord(
            entity=entity, id=record_id, version=1, fields=fields, created_at=now, updated_at=now, updated_by=actor
        )
        self._writer.write(user_write(record, SyncEvent.INSERT, expected_version=None), previous=None)
        return record

    def get_record(self, entity: EntityName, record_id: str) -> HubRecord:
        record = self._records.get(entity, record_id)
        if record is None:
            raise NotFoundError(f"{entity.value} {record_id} does not exist")
        return record

    def list_records(self, entity: EntityName, *, limit: int, cursor: str | None) -> Page[HubRecord]:
        return self._records.list(entity, limit=limit, cursor=cursor)

    def find_by_salesforce_id(self, entity: EntityName, salesforce_id: str) -> Page[HubRecord]:
        """The hub record linked to a Salesforce id, as a page of zero or one item."""
        state = self._states.find_by_salesforce_id(entity, salesforce_id)
        record = self._records.get(entity, state.record_id) if state is not None else None
        return Page[HubRecord](items=[record] if record is not None else [])

    def update_record(
        self,
        entity: EntityName,
        record_id: str,
        data: dict[str, Any],
        *,
        actor: str,
        expected_version: int | None,
        replace: bool,
    ) -> HubRecord:
        """PATCH merges `data` into the fields; PUT (`replace`) sets them whole.

        Without an expected version the write is still conditional on the version read here, so two
        concurrent writers can never silently overwrite each other.
        """
        _writable_model(entity)
        current = self.get_record(entity, record_id)
        version = current.version if expected_version is None else expected_version
        fields = validate_fields(entity, data if replace else merge_fields(current.fields, data))
        now = self._clock.now()
        record = current.model_copy(
            update={"version": version + 1, "fields": fields, "updated_at": now, "updated_by": actor}
        )
        self._writer.write(user_write(record, SyncEvent.UPDATE, expected_version=version))
        return record

    def delete_record(self, entity: EntityName, record_id: str, *, expected_version: int | None) -> None:
        """Remove the record; its sync state stays (operation Delete) so the deletion can be exported."""
        _writable_model(entity)
        current = self.get_record(entity, record_id)
        version = current.version if expected_version is None else expected_version
        self._writer.write(user_write(current, SyncEvent.DELETE, expected_version=version))

    def sync_status(self, entity: EntityName, record_id: str) -> SyncState:
        state = self._states.get(entity, record_id)
        if state is None:
            raise NotFoundError(f"{entity.value} {record_id} has no sync status: the record does not exist")
        return state
