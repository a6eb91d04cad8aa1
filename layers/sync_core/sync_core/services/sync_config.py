"""The sync configuration as the engine reads it: per entity, cached for a minute per container.

The engine applies every change with its entity's policies and mapping; reading them from DynamoDB for each
change would cost a request per change. A saved configuration takes effect within CACHE_SECONDS (the setting
SYNC_CONFIG_CACHE_SECONDS), a stop too; a stopped entity's configuration is never taken from the cache, so
processing it again takes effect at once (its held changes and exports, queued again, find it active).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.config import effective_mapping
from sync_core.domain.sync.defaults import salesforce_object_of
from sync_core.domain.sync.mapping import EntityMapping
from sync_core.domain.sync_config import EntitySyncConfig, ProcessStatus
from sync_core.ports.stores import Clock, SyncConfigStore

CACHE_SECONDS = 60


class SyncConfigCache:
    def __init__(self, store: SyncConfigStore, clock: Clock, *, max_age: timedelta = timedelta(seconds=CACHE_SECONDS)):
        self._store = store
        self._clock = clock
        self._max_age = max_age
        self._held: dict[EntityName, tuple[datetime, EntitySyncConfig, EntityMapping]] = {}

    def get(self, entity: EntityName) -> EntitySyncConfig:
        return self._entry(entity)[0]

    def mapping(self, entity: EntityName) -> EntityMapping:
        return self._entry(entity)[1]

    def exports(self, entity: EntityName) -> bool:
        return self.get(entity).exports

    def entity_of(self, salesforce_object: str) -> EntityName | None:
        """The hub entity whose mapping in force syncs this Salesforce object (the webhook and the change-event
        consumer name records by object); entities whose default mapping names it are tried first."""
        wanted = salesforce_object.lower()
        likely = [entity for entity in EntityName if salesforce_object_of(entity).lower() == wanted]
        for entity in [*likely, *(entity for entity in EntityName if entity not in likely)]:
            if self.mapping(entity).salesforce_object.lower() == wanted:
                return entity
        return None

    def _entry(self, entity: EntityName) -> tuple[EntitySyncConfig, EntityMapping]:
        now = self._clock.now()
        held = self._held.get(entity)
        if held is None or now - held[0] > self._max_age or held[1].status is ProcessStatus.STOPPED:
            config = self._store.get(entity)
            held = (now, config, effective_mapping(config))
            self._held[entity] = held
        return held[1], held[2]
