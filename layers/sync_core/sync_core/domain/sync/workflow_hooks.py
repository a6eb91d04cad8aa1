"""Where an entity's own workflow meets the sync engine: the one place the engine asks about it.

Most entities sync through their mapping alone. A case does not: its Salesforce Status (and the hub's own status,
reason and owner) come from the case workflow (sync_core.domain.cases.salesforce_case), and a status change from
Salesforce is a workflow action, applied by the import's Case hook (services.cases.salesforce).
- `workflow_export_values`: the values the entity's workflow adds to its export row, beside the mapping's;
- `workflow_fields`: the Salesforce fields (lower case) whose change is the workflow's to apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync_core.domain.cases.salesforce_case import case_export_fields
from sync_core.domain.entities import EntityName
from sync_core.domain.sync_config import EntitySyncConfig


def workflow_export_values(entity: EntityName, fields: Mapping[str, Any], config: EntitySyncConfig) -> dict[str, Any]:
    """The Salesforce values the entity's workflow sends with the record (empty for entities without one).

    Raises ValueError when the record's fields are not ones its workflow can read (a permanent mapping error)."""
    if entity is EntityName.CASE:
        return case_export_fields(fields, config.case_settings)
    return {}


def workflow_fields(entity: EntityName, config: EntitySyncConfig) -> frozenset[str]:
    """The Salesforce fields (lower case) a change of which the entity's workflow applies, not the mapping."""
    if entity is EntityName.CASE:
        return config.case_settings.workflow_fields()
    return frozenset()
