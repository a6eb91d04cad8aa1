"""Convergence: whatever the interleaving, the faults and the deliveries, the hub and Salesforce end up agreeing.

A property-based test (hypothesis, derandomized) over the whole engine in-process (tests/support/engine.py):
hub edits through the records API, Salesforce users' edits in the emulator, and every change event the
emulator emits (for users' edits and for the hub's own writes, so echoes too) delivered to the FIFO sync queue
late, out of order and more than once. Steps of the engine run between the edits, some of them with a fault:
in the emulator (503, REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW on a row, a validation error, a time-out
after Salesforce wrote), in DynamoDB (throttling, transaction conflicts) or in the export worker (it dies
between its Salesforce write and its state write). Then the faults stop, every event is delivered, the
queues drain, and:
- Salesforce holds no duplicate (one row per hub record, by the hub's external id and by the link), nor the
  hub (one record per Salesforce id);
- every record is Synchronized with both sides equal, or in Error with an unresolved error-log entry (a
  permanent failure, a dead letter, or, under the manual policy only, a conflict held for a person);
- no change is lost: a field changed on one side only ends with that side's last value, unless a conflict
  the entity's policy resolved for the other side dropped it; a field changed on both sides ends with the
  last value of one of them.
One limit is known and allowed for: an export Salesforce applied but the hub did not record (the worker died,
the answer timed out, DynamoDB refused the state write) is sent again in full, so a Salesforce user's edit made
in between is overwritten (both sides still agree). Shrinking is off to keep a failure's run bounded; the
failing example is printed. It prints how many operations, faults and deliveries it ran (`pytest -s`).
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change, ChangeSource, export_change
from sync_core.domain.sync.policy import ConflictPolicy
from sync_core.domain.sync_config import EntitySyncConfig
from tests.support.change_events import change_from_event
from tests.support.engine import Engine, _reset_handler_caches, running_engine
from tests.support.faults import dynamodb_fails
from tests.support.logs import captured_logs

# Hub field -> Salesforce field, the fields the scenario edits (strings both sides store as they are).
FIELDS = {"phone": "Phone", "description": "Description", "account_number": "AccountNumber"}
VALUES = ("a", "b", "c")  # few values, so both sides often write the same one
SLOTS = 2  # records per example
EXAMPLES = 14

SALESFORCE_FAULTS = ("503", "REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "validation", "timeout after write")
OTHER_FAULTS = ("DynamoDB throttling", "DynamoDB transaction conflict", "worker dies after Salesforce wrote")
FAULTS = (*SALESFORCE_FAULTS, *OTHER_FAULTS)
# Faults that can leave a Salesforce write unrecorded in the hub (it happened; the state write did not).
UNRECORDED = frozenset({"timeout after write", *OTHER_FAULTS})


# ---------------------------------------------------------------- the scenario's steps
@dataclass(frozen=True)
class HubEdit:
    slot: int
    field: str
    value: str


@dataclass(frozen=True)
class SalesforceEdit:
    slot: int
    field: str
    value: str


@dataclass(frozen=True)
class Deliver:
    pick: int  # which waiting change event (modulo how many wait): deliveries are reordered
    again: bool  # it stays waiting, to be delivered again (a duplicate)


@dataclass(frozen=True)
class Step:
    fault: str | None


@dataclass(frozen=True)
class ExportAgain:
    slot: int  # a duplicated export request


slots = st.integers(0, SLOTS - 1)
fields = st.sampled_from(sorted(FIELDS))
values = st.sampled_from(VALUES)
steps = st.lists(
    st.one_of(
        st.builds(HubEdit, slots, fields, values),
        st.builds(SalesforceEdit, slots, fields, values),
        st.builds(Deliver, st.integers(0, 50), st.booleans()),
        st.builds(Deliver, st.integers(0, 50), st.booleans()),
        st.builds(Step, st.none()),
        st.builds(Step, st.sampled_from(FAULTS)),
        st.builds(ExportAgain, slots),
    ),
    min_size=6,
    max_size=26,
)
scenarios = st.tuples(
    st.sampled_from(list(ConflictPolicy)),
    st.lists(st.booleans(), min_size=SLOTS, max_size=SLOTS),  # born in Salesforce (True) or in the hub
    steps,
)


# ---------------------------------------------------------------- what the run counts
@dataclass
class Tally:
    examples: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        operations = ", ".join(f"{name} {count}" for name, count in sorted(self.operations.items()))
        faults = ", ".join(f"{name} {count}" for name, count in sorted(self.faults.items()))
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        return (
            f"convergence: {self.examples} examples, {sum(self.operations.values())} operations ({operations}); "
            f"{sum(self.faults.values())} faults injected ({faults}); import outcomes: {outcomes}"
        )


@dataclass
class Slot:
    """One record of the scenario, and what each side wrote to it."""

    name: str
    hub_id: str | None = None
    salesforce_id: str | None = None
    hub_writes: dict[str, list[str]] = field(default_factory=dict)
    salesforce_writes: dict[str, list[str]] = field(default_factory=dict)


class Run:
    """One example: its records, the change events waiting for delivery, and the engine."""

    counter = itertools.count(1)

    def __init__(self, engine: Engine, tally: Tally, policy: ConflictPolicy) -> None:
        self.engine, self.tally, self.policy = engine, tally, policy
        self.number = next(Run.counter)
        self.slots = [Slot(name=f"Convergence {self.number}.{index}") for index in range(SLOTS)]
        self.waiting: list[Change] = []
        self.deliveries = itertools.count(1)
        self.unrecorded_writes = False  # a fault may have left an export written in Salesforce, not in the hub

    # ---------------------------------------------------------------- both sides
    def create(self, slot: Slot, in_salesforce: bool) -> None:
        if in_salesforce:
            created = self.engine.emulator.user_change("create", "Account", fields={"Name": slot.name})
            assert created["success"], created
            slot.salesforce_id = created["id"]
        else:
            answer = self.engine.api("POST", "/records/Account", body={"name": slot.name})
            assert answer.status == 201, answer.body
            slot.hub_id = answer.body["id"]

    def hub_id(self, slot: Slot) -> str | None:
        if slot.hub_id is None and slot.salesforce_id is not None:
            page = self.engine.api("GET", "/records/Account", query={"salesforce_id": slot.salesforce_id}).body
            if page["items"]:
                slot.hub_id = page["items"][0]["id"]
        return slot.hub_id

    def salesforce_id(self, slot: Slot) -> str | None:
        if slot.salesforce_id is None and slot.hub_id is not None:
            rows = [row for row in self.engine.emulator.records("Account") if row.get("Hub_Id__c") == slot.hub_id]
            if rows:
                slot.salesforce_id = rows[0]["Id"]
        return slot.salesforce_id

    def hub_edit(self, step: HubEdit) -> None:
        slot = self.slots[step.slot]
        record_id = self.hub_id(slot)
        if record_id is None:
            return
        for _ in range(5):  # a user who gets 409 reads the record again and retries
            version = self.engine.api("GET", f"/records/Account/{record_id}").body["version"]
            answer = self.engine.api(
                "PATCH",
                f"/records/Account/{record_id}",
                body={step.field: step.value},
                headers={"If-Match": f'"{version}"'},
            )
            if answer.status != 409:
                break
        assert answer.status == 200, answer.body
        slot.hub_writes.setdefault(step.field, []).append(step.value)
        self.tally.operations["hub edits"] += 1

    def salesforce_edit(self, step: SalesforceEdit) -> None:
        slot = self.slots[step.slot]
        salesforce_id = self.salesforce_id(slot)
        if salesforce_id is None:
            return
        changed = self.engine.emulator.user_change("update", "Account", salesforce_id, {FIELDS[step.field]: step.value})
        assert changed["success"], changed
        slot.salesforce_writes.setdefault(step.field, []).append(step.value)
        self.tally.operations["Salesforce edits"] += 1

    # ---------------------------------------------------------------- deliveries
    def on_event(self, event: dict[str, Any]) -> None:
        """Every change event the emulator emits (users' edits and the hub's own writes) waits for delivery."""
        header = event["detail"]["payload"]["ChangeEventHeader"]
        if header["entityName"] != "Account":
            return
        for index in range(len(header["recordIds"])):
            self.waiting.append(change_from_event(event, EntityName.ACCOUNT, index))

    def deliver(self, change: Change) -> None:
        """On the FIFO queue with a deduplication id of its own: a redelivery SQS does not recognise."""
        self.engine.sqs.send_message(
            QueueUrl=self.engine.environment["SYNC_QUEUE_URL"],
            MessageBody=change.model_dump_json(),
            MessageGroupId=change.message_group_id,
            MessageDeduplicationId=f"{change.deduplication_id[:40]}-{self.number}-{next(self.deliveries)}",
        )
        self.tally.operations["deliveries"] += 1

    def deliver_one(self, step: Deliver) -> None:
        if not self.waiting:
            return
        change = self.waiting[step.pick % len(self.waiting)]
        if not step.again:
            self.waiting.remove(change)
        self.deliver(change)

    def export_again(self, step: ExportAgain) -> None:
        record_id = self.slots[step.slot].hub_id
        if record_id is None:
            return
        request = export_change(EntityName.ACCOUNT, record_id, 1, source=ChangeSource.STREAM, stamp=_now())
        self.engine.sqs.send_message(
            QueueUrl=self.engine.queue_url("ExportQueue"), MessageBody=request.model_dump_json()
        )
        self.tally.operations["duplicated export requests"] += 1

    # ---------------------------------------------------------------- the engine
    def step(self, step: Step) -> None:
        with ExitStack() as stack:
            if step.fault is not None:
                stack.enter_context(self.fault(step.fault))
                self.tally.faults[step.fault] += 1
                self.unrecorded_writes |= step.fault in UNRECORDED
            self.engine.step()
        self.engine.emulator.clear_faults()
        self.tally.operations["engine steps"] += 1

    @contextmanager
    def fault(self, kind: str) -> Iterator[None]:
        emulator = self.engine.emulator
        if kind == "503":
            emulator.add_fault(status=503, error_code="SERVER_UNAVAILABLE", count=1)
        elif kind == "REQUEST_LIMIT_EXCEEDED":
            message = "ConcurrentPerOrgLongTxn Limit exceeded."
            emulator.add_fault(kind="collections", status=403, error_code=kind, message=message, count=1)
        elif kind == "UNABLE_TO_LOCK_ROW":
            emulator.add_fault(scope="record", kind="collections", status=400, error_code=kind, count=1)
        elif kind == "validation":
            message = "Accounts need a region"
            emulator.add_fault(
                scope="record",
                kind="collections",
                status=400,
                error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                message=message,
                count=1,
            )
        if kind == "timeout after write":
            with _timeout_after_write():
                yield
        elif kind == "DynamoDB throttling":
            with dynamodb_fails("TransactWriteItems", "ProvisionedThroughputExceededException"):
                yield
        elif kind == "DynamoDB transaction conflict":
            with dynamodb_fails(
                "TransactWriteItems", "TransactionCanceledException", cancellation_reasons=["TransactionConflict"]
            ):
                yield
        elif kind == "worker dies after Salesforce wrote":
            with _export_worker_dies_after_salesforce_wrote():
                yield
        else:
            yield

    def settle(self) -> None:
        """Faults stop; every waiting event is delivered (the ones the final drain makes too), queues drain."""
        self.engine.emulator.clear_faults()
        for _ in range(10):
            self.engine.drain(max_rounds=200)
            if not self.waiting:
                return
            while self.waiting:
                self.deliver(self.waiting.pop(0))
        raise AssertionError("the hub and Salesforce kept writing each other's changes")

    # ---------------------------------------------------------------- the verdict
    def check(self, outcomes: list[dict[str, Any]]) -> None:
        rows = [
            row
            for row in self.engine.emulator.records("Account")
            if row["Name"].startswith(f"Convergence {self.number}.")
        ]
        hub_ids = Counter(row.get("Hub_Id__c") for row in rows if row.get("Hub_Id__c"))
        assert all(count == 1 for count in hub_ids.values()), f"Salesforce holds duplicates: {hub_ids}"
        assert len(rows) == SLOTS, f"Salesforce holds {len(rows)} rows for {SLOTS} records: {rows}"
        for slot in self.slots:
            self.check_slot(slot, rows, outcomes)

    def check_slot(self, slot: Slot, rows: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> None:
        record_id = self.hub_id(slot)
        assert record_id is not None, f"{slot.name} never reached the hub"
        status = self.engine.api("GET", f"/records/Account/{record_id}/sync-status").body
        record = self.engine.api("GET", f"/records/Account/{record_id}").body
        [row] = [row for row in rows if row["Name"] == slot.name]
        if slot.salesforce_id is not None:
            page = self.engine.api("GET", "/records/Account", query={"salesforce_id": slot.salesforce_id}).body
            assert len(page["items"]) == 1, f"the hub holds {len(page['items'])} records for {slot.salesforce_id}"
        context = f"{slot.name} ({record_id}, {self.policy.value}): status {status}, hub {record['fields']}, sf {row}"
        unresolved = self.unresolved_errors(record_id)
        if status["status"] == "Error":
            assert unresolved, f"in Error without an unresolved error-log entry: {context}"
            if self.policy is not ConflictPolicy.MANUAL:
                assert all(entry["code"] != "CONFLICT" for entry in unresolved), context
            return
        assert status["status"] == "Synchronized", f"not settled: {context}"
        assert status["external_ref"] == row["Id"], context
        conflicts = [
            line["outcome"]
            for line in outcomes
            if line.get("record_id") == record_id and str(line.get("outcome", "")).startswith("conflict")
        ]
        for hub_field, salesforce_field in FIELDS.items():
            hub_value, salesforce_value = record["fields"].get(hub_field), row.get(salesforce_field)
            assert hub_value == salesforce_value, f"{hub_field} differs: {context}"
            hub_writes, salesforce_writes = slot.hub_writes.get(hub_field), slot.salesforce_writes.get(hub_field)
            if hub_writes and salesforce_writes:
                assert hub_value in (hub_writes[-1], salesforce_writes[-1]), f"{hub_field} lost both: {context}"
            elif hub_writes and (not conflicts or self.policy is ConflictPolicy.HUB_WINS):
                assert hub_value == hub_writes[-1], f"the hub's {hub_field} was lost: {context}, {conflicts}"
            elif salesforce_writes and (not conflicts or self.policy is ConflictPolicy.SALESFORCE_WINS):
                if self.unrecorded_writes and hub_value in (None, *(hub_writes or [])):
                    # Known limit: an export Salesforce applied but the hub did not record (its worker died)
                    # is sent again in full, over a user's edit made in between (the hub cannot tell them
                    # apart). Both sides still agree.
                    self.tally.operations["edits overwritten by an unrecorded export's retry"] += 1
                    continue
                assert hub_value == salesforce_writes[-1], f"Salesforce's {hub_field} was lost: {context}, {conflicts}"
        self.tally.operations["records checked"] += 1

    def unresolved_errors(self, record_id: str) -> list[dict[str, Any]]:
        from sync_core.adapters.aws import dynamodb_client
        from sync_core.adapters.dynamodb.codec import deserialize_item

        client = dynamodb_client()
        items = client.scan(TableName=self.engine.environment["ERROR_LOG_TABLE"]).get("Items", [])
        entries = [deserialize_item(item) for item in items]
        return [
            entry
            for entry in entries
            if entry.get("record_id") == record_id and entry.get("status") in ("open", "retrying", "dead")
        ]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@contextmanager
def _timeout_after_write() -> Iterator[None]:
    """The next Salesforce write reaches the org and is applied; its answer never comes back (a read time-out)."""
    from sync_core.adapters.salesforce import client as salesforce_client

    session_class = salesforce_client._TimeoutSession
    original = session_class.request
    fired: list[bool] = []

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        answer = original(self, method, url, *args, **kwargs)
        if not fired and str(method).upper() in ("PATCH", "POST") and "/composite" in str(url):
            fired.append(True)
            raise requests.ReadTimeout(f"injected: no answer from {url} after it was written")
        return answer

    session_class.request = request  # type: ignore[method-assign]
    try:
        yield
    finally:
        session_class.request = original  # type: ignore[method-assign]


class WorkerDied(Exception):
    """The export worker's process ended (a crash, a time-out) after Salesforce wrote and before the hub did."""


@contextmanager
def _export_worker_dies_after_salesforce_wrote() -> Iterator[None]:
    from sync_core.services.sync_export import SyncExportService

    original: Callable[..., Any] = SyncExportService._record_results
    fired: list[bool] = []

    def record_results(self: Any, items: Any, report: Any) -> Any:
        if not fired and any(item.results for item in items):
            fired.append(True)
            raise WorkerDied("the export worker died between its Salesforce write and its state write")
        return original(self, items, report)

    SyncExportService._record_results = record_results  # type: ignore[method-assign]
    try:
        yield
    finally:
        SyncExportService._record_results = original  # type: ignore[method-assign]


def _set_policy(engine: Engine, policy: ConflictPolicy) -> None:
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore

    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=os.environ["SYNC_CONFIG_TABLE"])
    store.put(EntitySyncConfig(entity=EntityName.ACCOUNT, conflict_policy=policy))
    _reset_handler_caches(engine.functions)  # the workers read the configuration again


def test_both_sides_converge_whatever_the_interleaving_faults_and_deliveries() -> None:
    tally = Tally()
    with running_engine() as engine:
        relay = engine.emulator.cdc
        listeners: list[Callable[[dict[str, Any]], None]] = []
        put = relay.queue.put

        def observed(event: Any, *args: Any, **kwargs: Any) -> None:
            if event is not None:
                for listener in listeners:
                    listener(event)
            put(event, *args, **kwargs)

        relay.queue.put = observed  # every change event, synchronously as the org commits it

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(scenarios)
        def converges(scenario: tuple[ConflictPolicy, list[bool], list[Any]]) -> None:
            policy, born_in_salesforce, actions = scenario
            _set_policy(engine, policy)
            run = Run(engine, tally, policy)
            listeners[:] = [run.on_event]
            tally.examples += 1
            with captured_logs() as lines:
                for slot, in_salesforce in zip(run.slots, born_in_salesforce, strict=True):
                    run.create(slot, in_salesforce)
                for action in actions:
                    if isinstance(action, HubEdit):
                        run.hub_edit(action)
                    elif isinstance(action, SalesforceEdit):
                        run.salesforce_edit(action)
                    elif isinstance(action, Deliver):
                        run.deliver_one(action)
                    elif isinstance(action, ExportAgain):
                        run.export_again(action)
                    else:
                        run.step(action)
                run.settle()
            outcomes = [line for line in lines if "outcome" in line]
            tally.outcomes.update(str(line["outcome"]) for line in outcomes)
            run.check(outcomes)

        try:
            converges()
        finally:
            print(f"\n{tally.line()}")
