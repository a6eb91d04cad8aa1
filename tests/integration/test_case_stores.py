"""Case adapters against moto tables from template.yaml: finder paging, all-or-nothing writes, case settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb import record_queries
from sync_core.adapters.dynamodb.case_settings import DynamoCaseSettingsStore
from sync_core.adapters.dynamodb.record_queries import DynamoRecordFinder
from sync_core.adapters.dynamodb.records import DynamoRecordStore
from sync_core.domain.cases.settings import CASE_CLASSES, CONTRACTS, WORKGROUPS, AssignmentRule, CaseClass, Workgroup
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync_state import SyncOperation, SyncState, state_after_local_write
from sync_core.errors import AlreadyExistsError, StaleVersionError, ValidationFailedError
from tests.support.aws_stack import hub_aws_environment

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def tables() -> Iterator[dict[str, str]]:
    with hub_aws_environment() as environment:
        yield environment


def hub_record(entity: EntityName, record_id: str, version: int = 1, **fields: object) -> HubRecord:
    return HubRecord(
        entity=entity, id=record_id, version=version, fields=fields, created_at=NOW, updated_at=NOW, updated_by="u"
    )


def state(record: HubRecord) -> SyncState:
    return state_after_local_write(
        None,
        entity=record.entity,
        record_id=record.id,
        operation=SyncOperation.INSERT,
        record_version=record.version,
        now=NOW,
    )


def records() -> DynamoRecordStore:
    return DynamoRecordStore(
        dynamodb_client(), records_table=os.environ["RECORDS_TABLE"], sync_state_table=os.environ["SYNC_STATE_TABLE"]
    )


def writer() -> DynamoRecordStore:
    return records()  # the record store is also the RecordBatchWriter


@pytest.mark.parametrize("read_batch", [1, 3, 200])
def test_finder_fills_pages_across_reads_and_resumes_from_its_cursor(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch, read_batch: int
) -> None:
    # Given seven contacts, four of them active at ACC-1, interleaved with others
    monkeypatch.setattr(record_queries, "_READ_BATCH", read_batch)
    store = records()
    for n in range(7):
        contact = hub_record(EntityName.CONTACT, f"CON-{n}", account_id="ACC-1" if n % 2 == 0 else "ACC-2", active=True)
        store.create(contact, state(contact))
    finder = DynamoRecordFinder(dynamodb_client(), records_table=os.environ["RECORDS_TABLE"])
    # When paging three at a time
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        page = finder.find(EntityName.CONTACT, {"account_id": "ACC-1", "active": True}, limit=3, cursor=cursor)
        seen += [record.id for record in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    # Then every match once, in id order
    assert seen == ["CON-0", "CON-2", "CON-4", "CON-6"]
    assert finder.find(EntityName.CONTACT, {"active": False}, limit=3, cursor=None).items == []


def test_finder_looks_up_by_index_and_follows_changed_fields(tables: dict[str, str]) -> None:
    # Given cases of two owners, statuses and accounts, and a client that records its queries
    store = records()
    for n, (status, owner, account) in enumerate(
        [("New", "alice", "ACC-1"), ("Open", "alice", "ACC-2"), ("Open", "bob", "ACC-1"), ("Open", None, "ACC-1")]
    ):
        fields = {"status": status, "account_id": account, **({"owner": owner} if owner else {})}
        case = hub_record(EntityName.CASE, f"CS00000{n}", **fields)
        store.create(case, state(case))
    client = dynamodb_client()
    queries: list[dict[str, object]] = []
    client.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params))
    finder = DynamoRecordFinder(client, records_table=os.environ["RECORDS_TABLE"])

    def ids(**where: str) -> list[str]:
        return [record.id for record in finder.find(EntityName.CASE, where, limit=10, cursor=None).items]

    # Then each filter reads one index, the others filter what it reads
    assert ids(account_id="ACC-1", status="Open") == ["CS000002", "CS000003"]
    assert queries[-1]["IndexName"] == "by_account"
    assert ids(owner="alice") == ["CS000000", "CS000001"]
    assert queries[-1]["IndexName"] == "by_owner"
    assert ids(status="Open") == ["CS000001", "CS000002", "CS000003"]
    assert queries[-1]["IndexName"] == "by_status"
    assert ids(owner="alice", status="New") == ["CS000000"]
    assert ids() == ["CS000000", "CS000001", "CS000002", "CS000003"]
    assert "IndexName" not in queries[-1]
    # An entity's lookup keys never match another entity's
    assert finder.find(EntityName.CONTACT, {"account_id": "ACC-1"}, limit=10, cursor=None).items == []

    # When a case changes owner and another loses its owner, the indexes follow
    moved = hub_record(EntityName.CASE, "CS000001", version=2, status="Open", account_id="ACC-2", owner="bob")
    store.replace(moved, state(moved), expected_version=1)
    cleared = hub_record(EntityName.CASE, "CS000002", version=2, status="Open", account_id="ACC-1")
    store.replace(cleared, state(cleared), expected_version=1)
    assert ids(owner="bob") == ["CS000001"]
    assert ids(owner="alice") == ["CS000000"]


def test_finder_cursors_belong_to_their_listing(tables: dict[str, str]) -> None:
    store = records()
    for n in range(3):
        case = hub_record(EntityName.CASE, f"CS00000{n}", status="Open", owner="alice")
        store.create(case, state(case))
    finder = DynamoRecordFinder(dynamodb_client(), records_table=os.environ["RECORDS_TABLE"])
    first = finder.find(EntityName.CASE, {"owner": "alice"}, limit=2, cursor=None)
    assert [record.id for record in first.items] == ["CS000000", "CS000001"]
    rest = finder.find(EntityName.CASE, {"owner": "alice"}, limit=2, cursor=first.next_cursor)
    assert ([record.id for record in rest.items], rest.next_cursor) == (["CS000002"], None)
    with pytest.raises(ValidationFailedError):
        finder.find(EntityName.CASE, {"owner": "bob"}, limit=2, cursor=first.next_cursor)
    with pytest.raises(ValidationFailedError):
        finder.find(EntityName.CASE, {"status": "Open"}, limit=2, cursor=first.next_cursor)


def test_batch_writes_are_all_or_nothing(tables: dict[str, str]) -> None:
    # Given a case at version 2
    store = records()
    case = hub_record(EntityName.CASE, "CS000001", subject="Jam")
    store.create(case, state(case))
    moved = case.model_copy(update={"version": 2})
    store.replace(moved, state(moved), expected_version=1)
    released = case.model_copy(update={"version": 3, "fields": {"subject": "Jam", "invoice_id": "INV000001"}})
    invoice = hub_record(EntityName.INVOICE, "INV000001", case_id="CS000001")
    # When a release based on version 1 is written
    with pytest.raises(StaleVersionError) as stale:
        writer().write_together(creates=[(invoice, state(invoice))], replaces=[(released, state(released), 1)])
    # Then nothing was written
    assert (stale.value.expected, stale.value.current) == (1, 2)
    assert store.get(EntityName.INVOICE, "INV000001") is None
    # And based on the current version, both are
    writer().write_together(creates=[(invoice, state(invoice))], replaces=[(released, state(released), 2)])
    assert store.get(EntityName.CASE, "CS000001").version == 3  # type: ignore[union-attr]
    assert store.get(EntityName.INVOICE, "INV000001") == invoice
    with pytest.raises(AlreadyExistsError):
        writer().write_together(creates=[(invoice, state(invoice))])


def test_case_settings_round_trip(tables: dict[str, str]) -> None:
    settings = DynamoCaseSettingsStore(dynamodb_client(), sync_config_table=os.environ["SYNC_CONFIG_TABLE"])
    support = CaseClass(class_id="SUPPORT", billable=True, labor_rate=Decimal("85.50"), resolution_hours=24)
    settings.put(CASE_CLASSES, support)
    settings.put(WORKGROUPS, Workgroup(workgroup_id="L1", members=["alice"]))
    assert settings.get(CASE_CLASSES, "SUPPORT") == support
    assert settings.get(CASE_CLASSES, "NOPE") is None
    assert [group.workgroup_id for group in settings.list_all(WORKGROUPS)] == ["L1"]
    assert settings.list_all(CONTRACTS) == []
    assert settings.assignment_rules() == []
    rules = [AssignmentRule(workgroup_id="L1", owner="alice")]
    settings.replace_assignment_rules(rules)
    assert settings.assignment_rules() == rules
