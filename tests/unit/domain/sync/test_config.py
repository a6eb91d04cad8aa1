"""A sync configuration checked when saved: shape and meaning mistakes together, each with its path."""

from __future__ import annotations

from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.config import effective_mapping, validate_sync_config
from sync_core.domain.sync.defaults import DEFAULT_MAPPINGS
from sync_core.domain.sync_config import EntitySyncConfig, ProcessStatus, SyncDirection
from sync_core.errors import ValidationFailedError


def errors(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationFailedError) as caught:
        validate_sync_config(data)
    return {item["field"]: item["reason"] for item in caught.value.errors}


@pytest.mark.parametrize("entity", list(EntityName))
def test_a_fresh_install_syncs_every_entity_but_the_export_only_ones(entity: EntityName) -> None:
    config = validate_sync_config({"entity": entity.value})
    assert effective_mapping(config) == DEFAULT_MAPPINGS[entity]
    export_only = entity in (EntityName.INVOICE, EntityName.CONTRACT_USAGE)
    assert config.status is (ProcessStatus.STOPPED if export_only else ProcessStatus.ACTIVE)
    assert config.direction is (SyncDirection.TO_SALESFORCE if export_only else SyncDirection.BOTH)
    assert config.exports is not export_only and config.imports is not export_only


def test_shape_mistakes_come_with_their_paths() -> None:
    found = errors(
        {
            "entity": "Contact",
            "conflict_policy": "coin toss",
            "mapping": {"entity": "Contact", "salesforce_object": "Contact", "field_mapping": [{"hub_field": ""}]},
        }
    )
    assert set(found) == {"conflict_policy", "mapping.field_mapping[0].hub_field"}


def test_meaning_mistakes_in_policies_and_mapping_come_together() -> None:
    found = errors(
        {
            "entity": "Invoice",
            "direction": "both",
            "mode": "batch",
            "create_only": True,
            "sync_only_linked": True,
            "mapping": {
                "entity": "Account",
                "salesforce_object": "Invoice__c",
                "field_mapping": [{"hub_field": "name", "salesforce_field": "Name", "transform": "bogus"}],
            },
        }
    )
    assert found == {
        "direction": "Invoice records are created only by the hub: sync them to Salesforce only",
        "schedule": "batch mode needs a schedule",
        "sync_only_linked": (
            "create only never updates and sync only linked never creates: together nothing would sync"
        ),
        "mapping.entity": "the mapping is for Account, not Invoice",
        "mapping.field_mapping[0].transform": (
            "unknown transform 'bogus' (known: split_name, date, datetime, decimal, number, upper, lower, "
            "trim, truncate)"
        ),
    }


def test_a_field_cannot_flow_where_its_entity_does_not() -> None:
    found = errors(
        {
            "entity": "Account",
            "direction": "to Salesforce",
            "filters": "Industry = 'Banking'",
            "mapping": {
                "entity": "Account",
                "salesforce_object": "Account",
                "field_mapping": [
                    {"hub_field": "name", "salesforce_field": "Name"},
                    {"hub_field": "industry", "salesforce_field": "Industry", "direction": "from Salesforce"},
                ],
            },
        }
    )
    assert found == {
        "filters": "filters choose what is pulled from Salesforce; this entity pulls nothing",
        "mapping.field_mapping[1].direction": (
            "direction conflict: it syncs from Salesforce but the entity syncs only to Salesforce"
        ),
    }


def test_a_valid_configuration_is_returned() -> None:
    config = validate_sync_config(
        {"entity": "Lead", "conflict_policy": "manual", "delete_policy": "delete in hub", "mode": "real time"}
    )
    assert isinstance(config, EntitySyncConfig) and config.conflict_policy.value == "manual"


def test_the_outbound_message_field_list_names_salesforce_fields_once_and_a_stamp() -> None:
    config = validate_sync_config({"entity": "Account", "outbound_fields": ["Id", "Name", "Phone", "SystemModstamp"]})
    assert config.outbound_fields == ["Id", "Name", "Phone", "SystemModstamp"]
    assert validate_sync_config({"entity": "Account"}).outbound_fields is None
    assert errors({"entity": "Account", "outbound_fields": ["Name", "name"]}) == {
        "outbound_fields": "Value error, name is listed twice"
    }
    assert errors({"entity": "Account", "outbound_fields": ["Name", "Bad Field"]})["outbound_fields"].endswith(
        "'Bad Field' is not a Salesforce field name"
    )
    problems = errors({"entity": "Account", "outbound_fields": ["Id", "Name"]})
    assert list(problems) == ["outbound_fields"]
    assert "list SystemModstamp (or LastModifiedDate)" in problems["outbound_fields"]
