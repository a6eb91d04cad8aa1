"""The sync's stores in DynamoDB: records with their state and link in one transaction, links, parked work.

Keys are listed in sync_core.ports.sync. Every write of a record goes through DynamoSyncStore.commit: one
TransactWriteItems holding, per record, the record (conditional on its version), its state (conditional on
the revision it was read at) and its link claim (conditional on the Salesforce id being free or already
this record's), so two deliveries of one new Salesforce record can never make two hub records.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from sync_core.adapters.dynamodb.codec import deserialize_item, serialize_item
from sync_core.adapters.dynamodb.records import (
    DynamoSequenceStore,
    record_from_item,
    record_to_item,
    state_from_item,
    state_to_item,
)
from sync_core.domain.entities import EntityName
from sync_core.domain.records import HubRecord
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync_state import SyncState
from sync_core.errors import (
    AlreadyExistsError,
    ContendedError,
    LinkTakenError,
    NotFoundError,
    StaleVersionError,
    StateMovedError,
)
from sync_core.ports.sync import (
    BUDGET,
    LinkClaim,
    LinkLookup,
    ParkedChange,
    ParkedExport,
    RecordKey,
    StoredRecord,
    StoredWrite,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100  # items per BatchGetItem
BATCH_WRITE_LIMIT = 25  # items per BatchWriteItem
_ENTITY_KINDS = frozenset(entity.value for entity in EntityName)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def link_key(kind: str, salesforce_id: str) -> dict[str, Any]:
    return _key(f"LINK#{kind}", salesforce_id)


def linked_key(kind: str, hub_key: str) -> dict[str, Any]:
    return _key(f"LINKED#{kind}", hub_key)


def waiting_marker_key(kind: str, salesforce_id: str) -> dict[str, Any]:
    """The item that says inbound changes wait for this Salesforce record (they sit under `<id>#...`)."""
    return _key(f"WAITING#{kind}", salesforce_id)


def _chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _batch_get(client: DynamoDBClient, requests: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Every item of the keys per table, following UnprocessedKeys (one request when nothing is throttled)."""
    found: dict[str, list[dict[str, Any]]] = {table: [] for table in requests}
    flat = [(table, key) for table, keys in requests.items() for key in keys]
    for chunk in _chunks(flat, BATCH_GET_LIMIT):
        pending: dict[str, Any] = {}
        for table, key in chunk:
            pending.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        while pending:
            answer = client.batch_get_item(RequestItems=pending)
            for table, items in answer.get("Responses", {}).items():
                found[table].extend(items)
            pending = dict(answer.get("UnprocessedKeys") or {})
    return found


def _batch_write(client: DynamoDBClient, table: str, requests: Sequence[dict[str, Any]]) -> None:
    for chunk in _chunks(requests, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: list(chunk)}
        while pending:
            answer = client.batch_write_item(RequestItems=pending)
            pending = dict(answer.get("UnprocessedItems") or {})


class DynamoSyncStore:
    """SyncStore on the records table and the sync state table."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        records_table: str,
        sync_state_table: str,
        sequences: DynamoSequenceStore | None = None,
    ) -> None:
        self._client = client
        self._records_table = records_table
        self._state_table = sync_state_table
        self._sequences = sequences

    def read(self, keys: Sequence[RecordKey]) -> dict[RecordKey, StoredRecord]:
        unique = list(dict.fromkeys(keys))
        found = _batch_get(
            self._client,
            {
                self._records_table: [_key(key.entity.value, key.record_id) for key in unique],
                self._state_table: [_key(key.entity.value, key.record_id) for key in unique],
            },
        )
        records = {
            RecordKey(record.entity, record.id): record for record in map(record_from_item, found[self._records_table])
        }
        states = {
            RecordKey(state.entity, state.record_id): state for state in map(state_from_item, found[self._state_table])
        }
        return {key: StoredRecord(key, records.get(key), states.get(key)) for key in unique}

    def read_state(self, key: RecordKey) -> SyncState | None:
        answer = self._client.get_item(
            TableName=self._state_table, Key=_key(key.entity.value, key.record_id), ConsistentRead=True
        )
        item = answer.get("Item")
        return state_from_item(item) if item else None

    def commit(self, writes: Sequence[StoredWrite]) -> None:
        self.commit_with(writes, ())

    def commit_with(self, writes: Sequence[StoredWrite], also: Sequence[dict[str, Any]]) -> None:
        """commit, with more items of the caller's in the same transaction (a case's activity). An item of
        `also` whose condition fails is reported as the first record's refusal (it moved on meanwhile)."""
        actions: list[dict[str, Any]] = []
        # What each transaction item is, to say which condition failed: (kind, write).
        roles: list[tuple[str, StoredWrite]] = []
        for write in writes:
            if write.record is not None:
                actions.append(self._record_put(write.record, write.expected_version, write.written_by))
                roles.append(("record", write))
            elif write.delete_record:
                actions.append(self._record_delete(write))
                roles.append(("record", write))
            actions.append(self._state_put(write.state, write.expected_revision))
            roles.append(("state", write))
            if write.claim is not None:
                actions.append(self._claim(write.claim))
                roles.append(("claim", write))
            if write.release is not None:
                actions.append(
                    {
                        "Delete": {
                            "TableName": self._state_table,
                            "Key": link_key(write.release.kind, write.release.salesforce_id),
                        }
                    }
                )
                roles.append(("release", write))
        # A new record (version 1) numbered by the sequence claims its number; a restored one keeps its id.
        claims = [
            claim
            for write in writes
            if write.record is not None and write.expected_version is None and write.record.version == 1
            if self._sequences and (claim := self._sequences.claim(write.record))
        ]
        roles += [("also", writes[0])] * len(also)
        actions += also
        try:
            self._client.transact_write_items(TransactItems=actions + claims)  # type: ignore[arg-type]
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons", [])
            failed = [index for index, reason in enumerate(reasons) if reason.get("Code") == "ConditionalCheckFailed"]
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException" or not failed:
                raise
            index = failed[0]
            if index >= len(roles):
                raise ContendedError("a concurrent create took the same number; retry", code="SequenceTaken") from exc
            role, write = roles[index]
            raise self._refusal(role, write) from exc

    def _record_put(self, record: HubRecord, expected_version: int | None, written_by: str) -> dict[str, Any]:
        if expected_version is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "attribute_exists(pk) AND version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        item = record_to_item(record, written_by=written_by)
        return {"Put": {"TableName": self._records_table, "Item": item, **condition}}

    def _record_delete(self, write: StoredWrite) -> dict[str, Any]:
        if write.expected_version is None:
            raise ValueError("a delete names the version it deletes")
        return {
            "Delete": {
                "TableName": self._records_table,
                "Key": _key(write.state.entity.value, write.state.record_id),
                "ConditionExpression": "attribute_exists(pk) AND version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(write.expected_version)}},
            }
        }

    def _state_put(self, state: SyncState, expected_revision: int | None) -> dict[str, Any]:
        if expected_revision is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        elif expected_revision == 0:  # a state written before revisions were counted has none
            condition = {
                "ConditionExpression": "attribute_not_exists(revision) OR revision = :revision",
                "ExpressionAttributeValues": {":revision": {"N": "0"}},
            }
        else:
            condition = {
                "ConditionExpression": "revision = :revision",
                "ExpressionAttributeValues": {":revision": {"N": str(expected_revision)}},
            }
        return {"Put": {"TableName": self._state_table, "Item": state_to_item(state), **condition}}

    def _claim(self, claim: LinkClaim) -> dict[str, Any]:
        item = {**link_key(claim.kind, claim.salesforce_id), "hub_key": {"S": claim.hub_key}}
        return {
            "Put": {
                "TableName": self._state_table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk) OR hub_key = :hub_key",
                "ExpressionAttributeValues": {":hub_key": {"S": claim.hub_key}},
            }
        }

    def _refusal(self, role: str, write: StoredWrite) -> Exception:
        entity, record_id = write.state.entity, write.state.record_id
        if role == "state":
            return StateMovedError(f"the sync state of {entity.value} {record_id} changed meanwhile; retry")
        if role == "also" and write.record is None:
            return StateMovedError(f"{entity.value} {record_id} changed meanwhile; retry")
        if role == "claim" and write.claim is not None:
            return LinkTakenError(
                f"Salesforce {write.claim.kind} {write.claim.salesforce_id} is linked to another hub record",
                kind=write.claim.kind,
                salesforce_id=write.claim.salesforce_id,
            )
        if write.expected_version is None:
            return AlreadyExistsError(f"{entity.value} {record_id} already exists")
        answer = self._client.get_item(
            TableName=self._records_table, Key=_key(entity.value, record_id), ConsistentRead=True
        )
        if "Item" not in answer:
            return NotFoundError(f"{entity.value} {record_id} does not exist")
        current = record_from_item(answer["Item"]).version
        return StaleVersionError(
            f"{entity.value} {record_id} is at version {current}, not {write.expected_version}",
            expected=write.expected_version,
            current=current,
        )


class DynamoLinkStore:
    """LinkStore on the sync state table."""

    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def lookup(
        self,
        *,
        by_salesforce_id: Sequence[tuple[str, str]] = (),
        by_hub_key: Sequence[tuple[str, str]] = (),
        waiting_for: Sequence[tuple[str, str]] = (),
    ) -> LinkLookup:
        links = LinkLookup()
        keys: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, salesforce_id in waiting_for:
            keys[(f"WAITING#{kind}", salesforce_id)] = waiting_marker_key(kind, salesforce_id)
        for kind, salesforce_id in by_salesforce_id:
            key = link_key(kind, salesforce_id)
            keys[(key["pk"]["S"], salesforce_id)] = key
        for kind, hub_key in by_hub_key:
            key = _key(kind, hub_key) if kind in _ENTITY_KINDS else linked_key(kind, hub_key)
            keys[(key["pk"]["S"], hub_key)] = key
        if not keys:
            return links
        for item in _batch_get(self._client, {self._table: list(keys.values())})[self._table]:
            plain = deserialize_item(item)
            pk, sk = str(plain["pk"]), str(plain["sk"])
            if pk.startswith("WAITING#"):
                links.waiting.add((pk.removeprefix("WAITING#"), sk))
            elif pk.startswith("LINK#"):
                links.link(pk.removeprefix("LINK#"), str(plain["hub_key"]), sk)
            elif pk.startswith("LINKED#"):
                links.link(pk.removeprefix("LINKED#"), sk, str(plain["salesforce_id"]))
            elif plain.get("external_ref"):
                links.link(pk, sk, str(plain["external_ref"]))
        return links

    def save(self, claims: Sequence[LinkClaim]) -> None:
        requests: list[dict[str, Any]] = []
        # One request per key in a batch (DynamoDB refuses duplicates): the last claim of a key wins.
        forward = {(claim.kind, claim.salesforce_id): claim for claim in claims}
        for claim in forward.values():
            requests.append(
                {"PutRequest": {"Item": {**link_key(claim.kind, claim.salesforce_id), "hub_key": {"S": claim.hub_key}}}}
            )
        backward = {(claim.kind, claim.hub_key): claim for claim in claims}
        for claim in backward.values():
            requests.append(
                {
                    "PutRequest": {
                        "Item": {**linked_key(claim.kind, claim.hub_key), "salesforce_id": {"S": claim.salesforce_id}}
                    }
                }
            )
        _batch_write(self._client, self._table, requests)


class DynamoParkedWork:
    """ParkedWork on the sync state table.

    Children waiting for a parent share one partition per parent kind (PARKED#Account, sort key
    `<parent key>#<entity>#<record id>`): the children of one parent are a begins_with query, and an export
    that linked many parents at once takes theirs with one query of the partition. Budget-parked exports sit
    under PARKED#budget.
    """

    # Above this many parents, one query of the whole partition costs less than one query per parent.
    PER_PARENT_QUERIES = 8

    def __init__(self, client: DynamoDBClient, *, sync_state_table: str) -> None:
        self._client = client
        self._table = sync_state_table

    def park(self, items: Sequence[ParkedExport]) -> None:
        requests = []
        for item in {(item.key, item.parent): item for item in items}.values():
            pk, sk = _parked_key(item)
            plain = {
                "pk": pk,
                "sk": sk,
                "entity": item.key.entity.value,
                "record_id": item.key.record_id,
                "reason": item.reason,
                "parked_at": item.parked_at.isoformat(),
                "parent_kind": item.parent[0] if item.parent else None,
                "parent_key": item.parent[1] if item.parent else None,
                "resume_after": item.resume_after.isoformat() if item.resume_after else None,
            }
            requests.append({"PutRequest": {"Item": serialize_item(plain)}})
        _batch_write(self._client, self._table, requests)

    def take_children(self, parent_kind: str, parent_keys: Collection[str]) -> list[ParkedExport]:
        wanted = set(parent_keys)
        if not wanted:
            return []
        pk = {":pk": {"S": f"PARKED#{parent_kind}"}}
        if len(wanted) <= self.PER_PARENT_QUERIES:
            found = [
                item
                for parent_key in sorted(wanted)
                for item in self._query(
                    "pk = :pk AND begins_with(sk, :prefix)", {**pk, ":prefix": {"S": f"{parent_key}#"}}
                )
            ]
        else:
            found = self._query("pk = :pk", pk)
        taken = [item for item in found if item.parent is not None and item.parent[1] in wanted]
        self._remove(taken)
        return taken

    def take_due(self, now: datetime, *, limit: int) -> list[ParkedExport]:
        due = [
            item
            for item in self._query("pk = :pk", {":pk": {"S": f"PARKED#{BUDGET}"}})
            if item.resume_after is None or item.resume_after <= now
        ][:limit]
        self._remove(due)
        return due

    def park_changes(self, items: Sequence[ParkedChange]) -> None:
        requests = []
        for item in {_waiting_key(item): item for item in items}.values():
            pk, sk = _waiting_key(item)
            plain = {
                "pk": pk,
                "sk": sk,
                "change": item.change.model_dump_json(),
                "reason": item.reason,
                "parked_at": item.parked_at.isoformat(),
            }
            requests.append({"PutRequest": {"Item": serialize_item(plain)}})
        # One marker per awaited record, read with its links: a create looks for waiting changes for free.
        for kind, salesforce_id in {(item.kind, item.salesforce_id) for item in items}:
            requests.append({"PutRequest": {"Item": waiting_marker_key(kind, salesforce_id)}})
        _batch_write(self._client, self._table, requests)

    def take_changes(self, kind: str, salesforce_ids: Collection[str]) -> list[ParkedChange]:
        taken: list[ParkedChange] = []
        pk = {":pk": {"S": f"WAITING#{kind}"}}
        for salesforce_id in sorted(set(salesforce_ids)):
            prefix = {":prefix": {"S": f"{salesforce_id}#"}}
            for plain in self._items("pk = :pk AND begins_with(sk, :prefix)", {**pk, **prefix}):
                taken.append(
                    ParkedChange(
                        change=Change.model_validate_json(str(plain["change"])),
                        kind=kind,
                        salesforce_id=salesforce_id,
                        reason=str(plain.get("reason", "")),
                        parked_at=datetime.fromisoformat(str(plain["parked_at"])),
                    )
                )
        deletes = [{"DeleteRequest": {"Key": _key(*_waiting_key(item))}} for item in taken]
        deletes += [
            {"DeleteRequest": {"Key": waiting_marker_key(kind, salesforce_id)}} for salesforce_id in set(salesforce_ids)
        ]
        _batch_write(self._client, self._table, deletes)
        return taken

    def _query(self, condition: str, values: dict[str, Any]) -> list[ParkedExport]:
        return [_parked_from_item(plain) for plain in self._items(condition, values)]

    def _items(self, condition: str, values: dict[str, Any]) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        while True:
            answer = self._client.query(**request)
            found += [deserialize_item(item) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                return found
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _remove(self, items: Sequence[ParkedExport]) -> None:
        deletes = []
        for item in items:
            pk, sk = _parked_key(item)
            deletes.append({"DeleteRequest": {"Key": _key(pk, sk)}})
        _batch_write(self._client, self._table, deletes)


def _parked_key(item: ParkedExport) -> tuple[str, str]:
    record = f"{item.key.entity.value}#{item.key.record_id}"
    if item.parent is None:
        return f"PARKED#{BUDGET}", record
    return f"PARKED#{item.parent[0]}", f"{item.parent[1]}#{record}"


def _waiting_key(item: ParkedChange) -> tuple[str, str]:
    # One item per change (its deduplication id): a redelivered change parks once.
    return f"WAITING#{item.kind}", f"{item.salesforce_id}#{item.change.deduplication_id}"


def _parked_from_item(plain: dict[str, Any]) -> ParkedExport:
    resume = plain.get("resume_after")
    parent = (str(plain["parent_kind"]), str(plain["parent_key"])) if plain.get("parent_kind") else None
    return ParkedExport(
        key=RecordKey(EntityName(str(plain["entity"])), str(plain["record_id"])),
        reason=str(plain.get("reason", "")),
        parked_at=datetime.fromisoformat(str(plain["parked_at"])),
        parent=parent,
        resume_after=datetime.fromisoformat(str(resume)) if resume else None,
    )
