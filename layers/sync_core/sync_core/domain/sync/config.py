"""An entity's sync configuration checked when saved: its policies and its mapping, every mistake with its path.

`validate_sync_config` is what sync administration calls with the body an administrator sends: shape
errors (pydantic) and meaning errors (an unknown hub field, a transform that does not exist, a direction
the entity cannot take...) come back together as one ValidationFailedError listing each with its path,
e.g. `mapping.field_mapping[3].transform`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.defaults import default_mapping
from sync_core.domain.sync.first_load import check_matching_fields
from sync_core.domain.sync.mapping import EntityMapping, MappingProblem, check_mapping
from sync_core.domain.sync.policy import SyncDirection, SyncMode
from sync_core.domain.sync_config import EXPORT_ONLY_ENTITIES, EntitySyncConfig
from sync_core.errors import ValidationFailedError


def effective_mapping(config: EntitySyncConfig) -> EntityMapping:
    """The mapping in force: the configured one, or the entity's default."""
    return config.mapping or default_mapping(config.entity)


def _direction_problems(config: EntitySyncConfig, mapping: EntityMapping) -> list[MappingProblem]:
    problems: list[MappingProblem] = []
    if config.direction is SyncDirection.BOTH:
        return problems
    entity_way = config.direction.value
    rows: list[tuple[str, SyncDirection]] = [
        *((f"mapping.field_mapping[{i}]", item.direction) for i, item in enumerate(mapping.field_mapping)),
        *((f"mapping.references[{i}]", item.direction) for i, item in enumerate(mapping.references)),
        *((f"mapping.children[{i}]", item.direction) for i, item in enumerate(mapping.children)),
    ]
    for path, direction in rows:
        if direction not in (SyncDirection.BOTH, config.direction):
            problems.append(
                MappingProblem(
                    f"{path}.direction",
                    f"direction conflict: it syncs {direction.value} but the entity syncs only {entity_way}",
                )
            )
    return problems


def check_sync_config(config: EntitySyncConfig) -> list[MappingProblem]:
    """Every mistake in the policies and the mapping; an empty list means it can be saved."""
    problems: list[MappingProblem] = []
    entity = config.entity.value
    if config.entity in EXPORT_ONLY_ENTITIES and config.direction.imports:
        problems.append(
            MappingProblem("direction", f"{entity} records are created only by the hub: sync them to Salesforce only")
        )
    if config.mode is SyncMode.REAL_TIME and config.schedule is not None:
        problems.append(
            MappingProblem("schedule", "a real-time-only entity runs on no schedule: set mode batch or both")
        )
    if config.mode is SyncMode.BATCH and config.schedule is None:
        problems.append(MappingProblem("schedule", "batch mode needs a schedule"))
    if config.filters and not config.direction.imports:
        problems.append(
            MappingProblem("filters", "filters choose what is pulled from Salesforce; this entity pulls nothing")
        )
    if config.create_only and config.sync_only_linked:
        problems.append(
            MappingProblem(
                "sync_only_linked",
                "create only never updates and sync only linked never creates: together nothing would sync",
            )
        )
    if not (config.import_enabled or config.export_enabled):
        problems.append(MappingProblem("export_enabled", "import and export are both off: stop the entity instead"))
    if config.outbound_fields is not None and not {"systemmodstamp", "lastmodifieddate"} & {
        name.lower() for name in config.outbound_fields
    }:
        problems.append(
            MappingProblem(
                "outbound_fields",
                "list SystemModstamp (or LastModifiedDate): without a stamp a late redelivery of an outbound "
                "message could roll the record back",
            )
        )
    if config.case is not None and config.entity is not EntityName.CASE:
        problems.append(MappingProblem("case", f"only the Case entity takes case settings, not {entity}"))
    mapping = effective_mapping(config)
    if config.mapping is not None:
        if config.mapping.entity is not config.entity:
            problems.append(
                MappingProblem("mapping.entity", f"the mapping is for {config.mapping.entity.value}, not {entity}")
            )
        problems += [MappingProblem(f"mapping.{item.path}", item.message) for item in check_mapping(config.mapping)]
    problems += _direction_problems(config, mapping)
    problems += check_matching_fields(mapping, config.matching_fields)
    return problems


def _path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(body)"


def validate_sync_config(data: Mapping[str, Any]) -> EntitySyncConfig:
    """The configuration an administrator saves, or a ValidationFailedError listing every mistake by path."""
    try:
        config = EntitySyncConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ValidationFailedError(
            "invalid sync configuration",
            errors=[{"field": _path(error["loc"]), "reason": error["msg"]} for error in exc.errors()],
        ) from exc
    problems = check_sync_config(config)
    if problems:
        raise ValidationFailedError(
            f"invalid sync configuration for {config.entity.value}", errors=[item.as_error() for item in problems]
        )
    return config
