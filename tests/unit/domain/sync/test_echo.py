"""Echo detection by the values last written, whatever changeOrigin says."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.defaults import DEFAULT_MAPPINGS
from sync_core.domain.sync.echo import repeats_last_sync
from sync_core.domain.sync.translate import ExportValues, LinkTable, to_salesforce

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def written() -> ExportValues:
    account = HubRecord(
        entity=EntityName.ACCOUNT,
        id="ACC-000001",
        version=2,
        fields={"name": "Acme", "annual_revenue": 1000.0, "number_of_employees": 12},
        created_at=NOW,
        updated_at=NOW,
        updated_by="u",
    )
    outcome = to_salesforce(account, DEFAULT_MAPPINGS[EntityName.ACCOUNT], LinkTable())
    assert isinstance(outcome, ExportValues)
    return outcome


def test_a_change_repeating_the_last_write_is_an_echo_even_in_salesforces_own_forms() -> None:
    hashes = written().field_hashes
    # Salesforce answers 1000 for 1000.0, adds system fields and writes names in any case.
    echo = {"Name": "Acme", "AnnualRevenue": 1000, "numberofemployees": 12.0, "LastModifiedDate": "2026-03-01T09:31Z"}
    assert repeats_last_sync(echo, hashes)


def test_a_change_with_one_new_value_is_not_an_echo() -> None:
    assert not repeats_last_sync({"Name": "Acme", "Phone": "555"}, written().field_hashes)
    assert not repeats_last_sync({"Name": "Acme Ltd"}, written().field_hashes)


def test_nothing_is_an_echo_of_a_record_never_synced() -> None:
    assert not repeats_last_sync({"Name": "Acme"}, {})


def test_a_mapped_field_never_synced_is_news_not_an_echo() -> None:
    """A record created from a change event naming only Name holds no hash for Phone: a later event setting
    Phone is a user's edit (found by the convergence test: it was dropped as an echo)."""
    mapping = DEFAULT_MAPPINGS[EntityName.ACCOUNT]
    created_from_name_only = {"name": written().field_hashes["name"]}
    edit = {"Phone": "555", "LastModifiedDate": "2026-03-01T09:31Z"}
    assert not repeats_last_sync(edit, created_from_name_only, imported=mapping.imported_fields)
    # Fields the mapping does not import still say nothing either way.
    assert repeats_last_sync(
        {"Name": "Acme", "LastModifiedDate": "x"}, created_from_name_only, imported=mapping.imported_fields
    )
