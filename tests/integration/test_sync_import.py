"""The import service against moto tables from template.yaml: creates, updates, duplicates, the link claim,
the request count per change, deletes and conflicts."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
from sync_core.adapters.dynamodb.error_log import DynamoErrorLog
from sync_core.adapters.dynamodb.sync import DynamoSyncStore
from sync_core.adapters.factories import build_import_service, build_records_service
from sync_core.config import get_settings
from sync_core.domain.entities import EntityName
from sync_core.domain.error_log import ErrorDirection, ErrorStatus, error_id
from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeOperation, ChangeSource
from sync_core.domain.sync.policy import ConflictPolicy, DeletePolicy
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncOperation, SyncStatus
from sync_core.errors import LinkTakenError
from sync_core.ports.sync import RecordKey
from sync_core.services.sync_import import Applied, SyncImportService
from tests.support.aws_stack import dynamodb_as_atomic_as_dynamodb, hub_aws_environment

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SF_ACCOUNT = "001000000000001AAA"


def change(
    salesforce_id: str = SF_ACCOUNT,
    *,
    at: datetime = T0,
    entity: EntityName = EntityName.ACCOUNT,
    operation: ChangeOperation = ChangeOperation.UPSERT,
    change_id: str | None = None,
    **values: Any,
) -> Change:
    return Change(
        direction=ChangeDirection.FROM_SALESFORCE,
        entity=entity,
        salesforce_id=salesforce_id,
        operation=operation,
        source=ChangeSource.CHANGE_EVENT,
        change_id=change_id or f"{salesforce_id}@{at.isoformat()}",
        stamp=at,
        values=values,
    )


@pytest.fixture
def tables() -> Iterator[dict[str, str]]:
    with hub_aws_environment() as environment:
        yield environment


@pytest.fixture
def service(tables: dict[str, str]) -> SyncImportService:
    return build_import_service(get_settings())


def configure(**policy: Any) -> None:
    DynamoSyncConfigStore(dynamodb_client(), sync_config_table=os.environ["SYNC_CONFIG_TABLE"]).put(
        EntitySyncConfig(entity=EntityName.ACCOUNT, **policy)
    )


def sync_queue_bodies() -> list[dict[str, Any]]:
    """The messages waiting on the FIFO sync queue, taken off it."""
    import json

    sqs = boto3.client("sqs")
    url = os.environ["SYNC_QUEUE_URL"]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def stored(record_id: str, entity: EntityName = EntityName.ACCOUNT) -> Any:
    store = DynamoSyncStore(
        dynamodb_client(), records_table=os.environ["RECORDS_TABLE"], sync_state_table=os.environ["SYNC_STATE_TABLE"]
    )
    key = RecordKey(entity, record_id)
    return store.read([key])[key]


class RequestCounter:
    """Counts the DynamoDB requests the shared client sends (botocore's before-call event: one per API call)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        dynamodb_client().meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


def test_a_new_salesforce_record_becomes_a_linked_synchronized_hub_record(service: SyncImportService) -> None:
    result = service.apply(change(Name="Acme", Phone="555-0100"))
    assert result.outcome is Applied.CREATED and result.record_id == "ACC-000001"
    record, state = stored("ACC-000001").record, stored("ACC-000001").state
    assert record.fields["name"] == "Acme" and record.fields["phone"] == "555-0100"
    assert record.updated_by == "sync:salesforce"
    assert (state.status, state.operation, state.external_ref) == (
        SyncStatus.SYNCHRONIZED,
        SyncOperation.INSERT,
        SF_ACCOUNT,
    )
    assert state.last_salesforce_modstamp == T0 and set(state.field_stamps) == {"Name", "Phone"}
    # The record item names its writer, so the records stream does not export the sync's own write back.
    item = dynamodb_client().get_item(
        TableName=os.environ["RECORDS_TABLE"], Key={"pk": {"S": "Account"}, "sk": {"S": "ACC-000001"}}
    )["Item"]
    assert item["written_by"] == {"S": "sync import"}


def test_a_duplicate_changes_nothing_and_an_older_event_never_rolls_a_field_back(service: SyncImportService) -> None:
    service.apply(change(Name="Acme"))
    assert service.apply(change(Name="Acme")).outcome is Applied.DUPLICATE
    later = T0 + timedelta(minutes=5)
    assert service.apply(change(at=later, Name="Acme Corp")).outcome is Applied.UPDATED
    # An event from before the rename, delivered late, names the old name: it is older, so it does not apply.
    assert service.apply(change(at=T0 + timedelta(minutes=1), Name="Acme Old")).outcome is Applied.STALE
    record = stored("ACC-000001").record
    assert (record.fields["name"], record.version) == ("Acme Corp", 2)


def test_an_import_costs_at_most_three_dynamodb_requests(service: SyncImportService) -> None:
    counter = RequestCounter()
    service.apply(change(Name="Warm-up"))  # the first change reads the sync configuration (cached afterwards)
    counter.reset()
    # A new record: the link (BatchGetItem), the sequence (GetItem), the transaction.
    service.apply(change("001000000000002AAA", Name="New"))
    assert counter.total <= 3, counter.calls
    assert counter.calls["TransactWriteItems"] == 1
    counter.reset()
    # An update: the links (BatchGetItem), record + state (BatchGetItem), the transaction.
    service.apply(change("001000000000002AAA", at=T0 + timedelta(minutes=1), Name="Renamed"))
    assert counter.total <= 3, counter.calls
    assert dict(counter.calls) == {"BatchGetItem": 2, "TransactWriteItems": 1}


def test_two_concurrent_deliveries_of_one_new_record_make_one_hub_record(tables: dict[str, str]) -> None:
    services = [build_import_service(get_settings()) for _ in range(4)]
    barrier = threading.Barrier(len(services))
    results: list[Any] = []
    errors: list[BaseException] = []

    def deliver(service: SyncImportService) -> None:
        barrier.wait()
        try:
            results.append(service.apply(change(Name="Racing")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(service,)) for service in services]
    with dynamodb_as_atomic_as_dynamodb():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    linked = {result.record_id for result in results}
    assert len(linked) == 1, results
    records = dynamodb_client().query(
        TableName=os.environ["RECORDS_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "Account"}},
    )["Items"]
    assert len(records) == 1


def test_the_loser_of_the_link_claim_applies_again_as_an_update(
    service: SyncImportService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a record another delivery created and linked after this delivery read "no link"
    winner = service.apply(change(Name="Winner"))
    real_lookup = service._links.lookup
    reads: list[bool] = []

    def lookup_from_before_the_winner(**kwargs: Any) -> Any:
        found = real_lookup(**kwargs)
        if not reads:
            found.hub_keys.clear()
        reads.append(bool(found.hub_keys))
        return found

    monkeypatch.setattr(service._links, "lookup", lookup_from_before_the_winner)
    commits: list[str] = []
    real_commit = service._store.commit

    def commit(writes: Any) -> None:
        try:
            real_commit(writes)
            commits.append("committed")
        except LinkTakenError:
            commits.append("link taken")
            raise

    monkeypatch.setattr(service._store, "commit", commit)
    # When this delivery applies
    result = service.apply(change(at=T0 + timedelta(minutes=1), Name="Loser's value"))
    # Then its create's transaction failed on the claim, and it applied again as an update of the winner's record
    assert commits == ["link taken", "committed"] and reads == [False, True]
    assert result.outcome is Applied.UPDATED and result.record_id == winner.record_id
    assert stored(str(winner.record_id)).record.fields["name"] == "Loser's value"
    assert stored("ACC-000002").record is None  # no second hub record, and no number used up


def test_a_delete_follows_the_entity_delete_policy(service: SyncImportService) -> None:
    created = service.apply(change(Name="Gone"))
    configure(delete_policy=DeletePolicy.DELETE_IN_HUB)
    service._configs._held.clear()
    result = service.apply(change(at=T0 + timedelta(minutes=1), operation=ChangeOperation.DELETE))
    assert result.outcome is Applied.DELETED
    after = stored(str(created.record_id))
    assert after.record is None and after.state.operation is SyncOperation.DELETE
    # An undelete brings it back under the same id
    restored = service.apply(
        change(at=T0 + timedelta(minutes=2), operation=ChangeOperation.UNDELETE, Name="Gone", Phone="1")
    )
    assert restored.outcome is Applied.CREATED and restored.record_id == created.record_id
    assert stored(str(created.record_id)).record.fields["phone"] == "1"


def test_unlink_policy_keeps_the_hub_record_and_drops_the_link(service: SyncImportService) -> None:
    created = service.apply(change(Name="Kept"))
    result = service.apply(change(at=T0 + timedelta(minutes=1), operation=ChangeOperation.DELETE))
    assert result.outcome is Applied.UNLINKED  # the default delete policy
    after = stored(str(created.record_id))
    assert after.record is not None and after.state.external_ref is None


def hub_edit(record_id: str, **fields: Any) -> None:
    build_records_service(get_settings()).update_record(
        EntityName.ACCOUNT, record_id, fields, actor="alice", expected_version=None, replace=False
    )


@pytest.mark.parametrize(
    ("policy", "outcome", "name", "status"),
    [
        (ConflictPolicy.SALESFORCE_WINS, Applied.CONFLICT_SALESFORCE_WON, "SF name", SyncStatus.MODIFIED_LOCALLY),
        (ConflictPolicy.HUB_WINS, Applied.CONFLICT_HUB_KEPT, "Hub name", SyncStatus.MODIFIED_LOCALLY),
        (ConflictPolicy.MANUAL, Applied.CONFLICT_HELD, "Hub name", SyncStatus.ERROR),
    ],
)
def test_a_record_changed_on_both_sides_is_resolved_by_the_policy(
    service: SyncImportService, policy: ConflictPolicy, outcome: Applied, name: str, status: SyncStatus
) -> None:
    configure(conflict_policy=policy)
    created = service.apply(change(Name="Original"))
    record_id = str(created.record_id)
    hub_edit(record_id, name="Hub name")
    result = service.apply(change(at=datetime.now(UTC) + timedelta(minutes=1), Name="SF name"))
    assert result.outcome is outcome
    after = stored(record_id)
    assert after.record.fields["name"] == name and after.state.status is status
    entry = DynamoErrorLog(dynamodb_client(), error_log_table=os.environ["ERROR_LOG_TABLE"]).get(
        error_id(EntityName.ACCOUNT, record_id, ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
    )
    if policy is ConflictPolicy.MANUAL:
        assert entry is not None and entry.code == "CONFLICT" and entry.status is ErrorStatus.OPEN
        assert entry.payload is not None
        assert entry.payload["hub"] == {"name": "Hub name"} and entry.payload["salesforce"] == {"Name": "SF name"}
    else:
        assert entry is None


@pytest.mark.parametrize("policy", list(ConflictPolicy))
def test_a_change_from_both_sides_to_the_same_value_is_no_conflict_and_no_new_version(
    service: SyncImportService, policy: ConflictPolicy
) -> None:
    """Typically the hub's own export seen in Salesforce before its result was recorded: the hub's write and
    Salesforce's agree, so no policy has anything to decide and the record gets no version the user did not
    make (a user's If-Match on the version they just wrote keeps working)."""
    configure(conflict_policy=policy)
    created = service.apply(change(Name="Original"))
    record_id = str(created.record_id)
    hub_edit(record_id, name="Agreed name")
    before = stored(record_id)
    result = service.apply(change(at=datetime.now(UTC) + timedelta(minutes=1), Name="Agreed name"))
    assert result.outcome is Applied.UNCHANGED
    after = stored(record_id)
    assert after.record.version == before.record.version and after.record.fields["name"] == "Agreed name"
    assert after.state.status is SyncStatus.MODIFIED_LOCALLY  # its export, already queued, records the sync
    entry = DynamoErrorLog(dynamodb_client(), error_log_table=os.environ["ERROR_LOG_TABLE"]).get(
        error_id(EntityName.ACCOUNT, record_id, ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
    )
    assert entry is None
    # An older Salesforce value delivered after it is stale: the stamps were kept.
    assert service.apply(change(at=T0 + timedelta(seconds=30), Name="Older")).outcome is Applied.STALE


def test_a_value_the_hub_refuses_is_a_permanent_failure_in_the_error_log(service: SyncImportService) -> None:
    created = service.apply(change(Name="Valid"))
    result = service.apply(change(at=T0 + timedelta(minutes=1), Name=None))  # the hub requires a name
    assert result.outcome is Applied.FAILED
    state = stored(str(created.record_id)).state
    assert state.status is SyncStatus.ERROR and "name" in str(state.error)
    log = DynamoErrorLog(dynamodb_client(), error_log_table=os.environ["ERROR_LOG_TABLE"])
    entry = log.get(
        error_id(EntityName.ACCOUNT, str(created.record_id), ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
    )
    assert entry is not None and entry.status is ErrorStatus.OPEN and entry.code == "VALIDATION_FAILED"
    # A later good change resolves the entry by itself
    assert service.apply(change(at=T0 + timedelta(minutes=2), Name="Fixed")).outcome is Applied.UPDATED
    again = log.get(entry.id)
    assert again is not None and again.status is ErrorStatus.RESOLVED
    assert stored(str(created.record_id)).state.status is SyncStatus.SYNCHRONIZED


def test_a_contact_whose_account_the_hub_lacks_is_parked_then_queued_again_when_the_account_links(
    service: SyncImportService,
) -> None:
    """Waiting for a parent is not a failure: the change is parked in DynamoDB (not bounced through the FIFO
    queue, whose receive counts are for failures) and queued again when its account links."""
    contact = change("003000000000001AAA", entity=EntityName.CONTACT, LastName="Orphan", AccountId="001000000000077AAA")
    parked = service.apply(contact)
    assert parked.outcome is Applied.PARKED and "waits for parent Account 001000000000077AAA" in str(parked.message)
    assert sync_queue_bodies() == []
    # Its account arrives: the parked contact is taken from the park and queued again (a new deduplication id)
    account = service.apply(change("001000000000077AAA", Name="Parent"))
    assert account.outcome is Applied.CREATED and [item.change for item in account.requeue] == [contact]
    service.hand_on(account)
    [queued] = sync_queue_bodies()
    requeued = Change.model_validate(queued)
    assert requeued.change_id == contact.change_id and requeued.requeued == 1
    assert requeued.deduplication_id != contact.deduplication_id
    assert service.apply(change("001000000000077AAA", at=T0 + timedelta(seconds=1), Name="Parent 2")).requeue == ()
    applied = service.apply(requeued)
    assert applied.outcome is Applied.CREATED
    assert stored(str(applied.record_id), EntityName.CONTACT).record.fields["account_id"] == account.record_id
    # A change the queue gave up on: the record goes to Error and its entry is dead
    later = change("003000000000001AAA", entity=EntityName.CONTACT, at=T0 + timedelta(minutes=1), LastName="X")
    service.mark_dead(later, "retries spent")
    assert stored(str(applied.record_id), EntityName.CONTACT).state.status is SyncStatus.ERROR
    log = DynamoErrorLog(dynamodb_client(), error_log_table=os.environ["ERROR_LOG_TABLE"])
    entry = log.get(
        error_id(EntityName.CONTACT, str(applied.record_id), ErrorDirection.FROM_SALESFORCE, SyncOperation.UPDATE)
    )
    assert entry is not None and entry.status is ErrorStatus.DEAD
    # ... until the record's next successful sync resolves it
    assert service.apply(later).outcome is Applied.UPDATED
    assert log.get(entry.id).status is ErrorStatus.RESOLVED  # type: ignore[union-attr]


def test_two_writes_within_one_stamp_apply_in_delivery_order_and_a_redelivery_stays_a_no_op(
    service: SyncImportService,
) -> None:
    # SystemModstamp has a second's resolution: two edits of a field in one second carry one stamp
    created = service.apply(change(Name="First"))
    assert service.apply(change(change_id="second", Name="Second")).outcome is Applied.UPDATED
    assert stored(str(created.record_id)).record.fields["name"] == "Second"
    assert service.apply(change(change_id="second", Name="Second")).outcome is Applied.DUPLICATE
