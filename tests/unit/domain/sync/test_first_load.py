"""First loads' matching (domain.sync.first_load): external id first, then the entity's matching fields; one to
one links, ambiguity never guessed, creates only where the configuration allows."""

from __future__ import annotations

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.defaults import default_mapping
from sync_core.domain.sync.first_load import (
    HubSide,
    Planned,
    SalesforceSide,
    check_matching_fields,
    matching_fields,
    matching_targets,
    plan_first_load,
)

CONTACT_MATCHING = matching_targets(default_mapping(EntityName.CONTACT), matching_fields(EntityName.CONTACT, None))


def _plan(hub: list[HubSide], salesforce: list[SalesforceSide], **options: bool) -> dict[str, list[tuple]]:
    steps = plan_first_load(
        hub,
        salesforce,
        external_id_field="Hub_Id__c",
        matching=CONTACT_MATCHING,
        creates_in_salesforce=options.get("creates_in_salesforce", True),
        creates_in_hub=options.get("creates_in_hub", True),
    )
    planned: dict[str, list[tuple]] = {}
    for step in steps:
        planned.setdefault(step.action.value, []).append((step.hub_id, step.salesforce_id, *step.candidates))
    return planned


def _hub(record_id: str, email: str | None = None, *, linked_to: str | None = None, in_sync: bool = False) -> HubSide:
    return HubSide(record_id, {"last_name": record_id, "email": email}, 1, linked_to, in_sync)


def _row(salesforce_id: str, email: str | None = None, hub_id: str | None = None) -> SalesforceSide:
    return SalesforceSide(salesforce_id, {"Id": salesforce_id, "Email": email, "Hub_Id__c": hub_id})


def test_the_defaults_match_contacts_and_leads_by_email_accounts_by_name_and_city_products_by_code() -> None:
    assert CONTACT_MATCHING == [("email", "Email")]
    assert matching_fields(EntityName.ACCOUNT, None) == ("name", "billing_address.city")
    assert matching_targets(default_mapping(EntityName.ACCOUNT), ("name", "billing_address.city")) == [
        ("name", "Name"),
        ("billing_address.city", "BillingCity"),
    ]
    assert matching_targets(default_mapping(EntityName.PRODUCT), ("product_code",)) == [("product_code", "ProductCode")]
    assert matching_fields(EntityName.OPPORTUNITY, None) == ()
    assert matching_fields(EntityName.ACCOUNT, ["name"]) == ("name",)  # configured


def test_the_external_id_wins_over_the_matching_fields() -> None:
    planned = _plan([_hub("C1", "a@x.test")], [_row("003A", "a@x.test"), _row("003B", "other@x.test", hub_id="C1")])
    assert planned["link"] == [("C1", "003B")]
    assert planned["create in hub"] == [(None, "003A")]  # the email's twin is another record: created, not linked


def test_emails_match_trimmed_and_case_blind_one_to_one() -> None:
    planned = _plan([_hub("C1", " Ada@Example.TEST")], [_row("003A", "ada@example.test")])
    assert planned == {"link": [("C1", "003A")]}


def test_several_candidates_are_never_guessed_and_nothing_of_them_is_created() -> None:
    planned = _plan(
        [_hub("C1", "dup@x.test"), _hub("C2", "twin@x.test"), _hub("C3", "twin@x.test")],
        [_row("003A", "dup@x.test"), _row("003B", "DUP@x.test"), _row("003C", "twin@x.test")],
    )
    assert planned == {
        "ambiguous": [("C1", None, "003A", "003B"), ("C2", None, "003C"), ("C3", None, "003C")],
    }


def test_records_without_a_matching_value_are_created_on_the_other_side_where_allowed() -> None:
    hub = [_hub("C1"), _hub("C2", "only-hub@x.test")]
    salesforce = [_row("003A"), _row("003B", "only-sf@x.test")]
    planned = _plan(hub, salesforce)
    assert planned["create in Salesforce"] == [("C1", None), ("C2", None)]
    assert planned["create in hub"] == [(None, "003A"), (None, "003B")]
    # An entity that only imports creates nothing in Salesforce: those records are left as they are.
    assert _plan(hub, salesforce, creates_in_salesforce=False)["leave"] == [("C1", None), ("C2", None)]


def test_linked_records_are_left_when_in_sync_and_updated_when_not() -> None:
    planned = _plan(
        [_hub("C1", linked_to="003A", in_sync=True), _hub("C2", linked_to="003B")],
        [_row("003A"), _row("003B")],
    )
    assert planned == {"leave": [("C1", "003A")], "update": [("C2", "003B")]}


def test_matching_fields_must_map_to_one_salesforce_field() -> None:
    mapping = default_mapping(EntityName.ACCOUNT)
    problems = check_matching_fields(mapping, ["name", "no_such_field", "name"])
    assert [problem.path for problem in problems] == ["matching_fields[1]", "matching_fields"]
    assert check_matching_fields(mapping, None) == []
    assert Planned.AMBIGUOUS.value == "ambiguous"


def test_a_configuration_naming_an_unmapped_matching_field_is_refused_with_its_path() -> None:
    import pytest

    from sync_core.domain.sync.config import validate_sync_config
    from sync_core.errors import ValidationFailedError

    with pytest.raises(ValidationFailedError) as raised:
        validate_sync_config({"entity": "Account", "matching_fields": ["name", "no_such_field"]})
    assert [error["field"] for error in raised.value.errors] == ["matching_fields[1]"]
    assert validate_sync_config({"entity": "Lead", "matching_fields": ["email", "company"]}).matching_fields == [
        "email",
        "company",
    ]
