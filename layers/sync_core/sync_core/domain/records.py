"""The hub record envelope: typed fields plus identity, version and audit columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from sync_core.domain.entities import EntityName

SYNC_ACTOR_PREFIX = "sync:"


class HubRecord(BaseModel):
    """One back-office record as stored and as the records API returns it."""

    entity: EntityName
    id: str
    version: int = Field(ge=1, description="Increases by one on every write (optimistic locking)")
    fields: dict[str, Any] = Field(description="The entity's typed fields, validated by its model")
    created_at: datetime
    updated_at: datetime
    updated_by: str = Field(description="A user, or sync:<source> when the sync itself wrote it")

    @property
    def written_by_sync(self) -> bool:
        return self.updated_by.startswith(SYNC_ACTOR_PREFIX)


class Page[T](BaseModel):
    """One page of a listing; pass next_cursor back to get the next page."""

    items: list[T]
    next_cursor: str | None = None
