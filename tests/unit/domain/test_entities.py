"""Entity models: what users may write, and how PATCH merges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from sync_core.domain.cases.vocabulary import format_case_id
from sync_core.domain.entities import (
    ENTITY_MODELS,
    ID_PREFIXES,
    Account,
    EntityName,
    Product,
    format_record_id,
    merge_fields,
)
from sync_core.domain.sync_state import values_hash


def test_every_entity_but_the_case_workflows_has_a_writable_model() -> None:
    # Cases, and the invoices and contract usage their release creates, are written by the case workflow.
    assert set(ENTITY_MODELS) == set(EntityName) - {EntityName.CASE, EntityName.INVOICE, EntityName.CONTRACT_USAGE}


def test_money_is_exact_inside_and_a_number_in_json() -> None:
    account = Account(name="A", annual_revenue=Decimal("1250000.50"))
    assert account.annual_revenue == Decimal("1250000.50")
    assert account.model_dump(mode="json")["annual_revenue"] == 1250000.5


@pytest.mark.parametrize("name", ["1abc", "has space", "x" * 41, "dash-name"])
def test_custom_field_names_are_checked(name: str) -> None:
    with pytest.raises(ValidationError, match="custom field name"):
        Account(name="A", custom_fields={name: 1})


def test_product_refuses_two_prices_for_the_same_book_and_currency() -> None:
    with pytest.raises(ValidationError, match="two prices"):
        Product(name="P", prices=[{"unit_price": 1}, {"unit_price": 2}])  # type: ignore[list-item]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Account.model_validate({"name": "A", "nmae": "typo"})


def test_merge_replaces_top_level_and_merges_custom_fields() -> None:
    current = {"name": "A", "phone": "1", "custom_fields": {"Region": "EMEA", "Tier": "Gold"}}
    merged = merge_fields(current, {"phone": None, "custom_fields": {"Tier": None, "Segment": "SMB"}})
    assert merged == {"name": "A", "phone": None, "custom_fields": {"Region": "EMEA", "Segment": "SMB"}}


def test_record_ids_come_from_the_entity_prefix() -> None:
    assert format_record_id(EntityName.OPPORTUNITY, 42) == "OPP-000042"


def test_only_the_records_apis_entities_have_a_record_id_prefix() -> None:
    # Cases are numbered by the case workflow (CS000042); a "CASE-" prefix would contradict it.
    assert set(ID_PREFIXES) == set(ENTITY_MODELS)
    assert format_case_id(42) == "CS000042"


def test_values_hash_ignores_key_order() -> None:
    assert values_hash({"a": 1, "b": [1, 2]}) == values_hash({"b": [1, 2], "a": 1})
    assert values_hash({"a": 1}) != values_hash({"a": 2})
