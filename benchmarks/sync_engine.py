"""The sync engine, each figure beside its baseline measured in the same run.

1. Export burst: N changed records (N = 1,000 and 10,000) written at once; record_stream queues their
   exports from the records stream and export_worker exports them as the template's event source feeds it
   (batches of 1,000): Salesforce API calls, against the issue's bound 1.05 x ceil(N/1000) + 2, plain sObject
   Collections (200 records a call) and one REST upsert per record, both sent to the same emulator. moto's
   SQS is made to scale for it (benchmarks/moto_speedups.py).
2. Import: DynamoDB requests to apply one inbound change (new record, update, duplicate) through sync_worker,
   counted on the hub's client, against the same work done one item per request.
3. Local stack: p50/p95 of a hub write reaching the emulator (Synchronized) and of a change on the sync
   queue reaching the hub record, over HTTP on `python -m local`'s stack.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from benchmarks.common import percentile, print_table

BURSTS = (1000, 10_000)
PER_RECORD_LIMIT = 1000  # one call per record is slow by nature: measured at the smaller size only
LATENCY_RUNS = 20


def _environment() -> None:
    for name, value in {
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }.items():
        os.environ.setdefault(name, value)


# ---------------------------------------------------------------- 1. export burst
def _write_changed_accounts(engine: Any, prefix: str, count: int) -> list[str]:
    """`count` accounts as a burst of users' writes leaves them (record + Modified Locally state), written in
    batches; the records stream then queues their exports through record_stream, as for any write."""
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.records import record_to_item, state_to_item
    from sync_core.domain.entities import EntityName
    from sync_core.domain.records import HubRecord
    from sync_core.domain.sync.transitions import Actor
    from sync_core.domain.sync_state import SyncOperation, state_after_local_write

    now = datetime.now(UTC)
    client = dynamodb_client()
    ids = [f"{prefix}-{index:06d}" for index in range(count)]
    items: list[tuple[str, dict[str, Any]]] = []
    for record_id in ids:
        record = HubRecord(
            entity=EntityName.ACCOUNT,
            id=record_id,
            version=1,
            fields={"name": f"Burst {record_id}"},
            created_at=now,
            updated_at=now,
            updated_by="bench",
        )
        state = state_after_local_write(
            None,
            entity=EntityName.ACCOUNT,
            record_id=record_id,
            operation=SyncOperation.INSERT,
            record_version=1,
            now=now,
        )
        items.append((engine.environment["RECORDS_TABLE"], record_to_item(record, written_by=Actor.USER.value)))
        items.append((engine.environment["SYNC_STATE_TABLE"], state_to_item(state)))
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        requests_by_table: dict[str, list[Any]] = {}
        for table, item in chunk:
            requests_by_table.setdefault(table, []).append({"PutRequest": {"Item": item}})
        client.batch_write_item(RequestItems=requests_by_table)
    return ids


def _burst(engine: Any, count: int) -> tuple[int, float, int]:
    """(API calls, wall seconds, records synchronized) of exporting a burst of `count` changed accounts."""
    ids = _write_changed_accounts(engine, f"B{count}-{uuid.uuid4().hex[:4]}", count)
    engine.emulator.reset_counters()
    started = time.perf_counter()
    report = engine.drain(max_rounds=count // 100 + 20)
    elapsed = time.perf_counter() - started
    assert report.failures["ExportWorkerFunction"] == 0, report
    synchronized = len({row["Hub_Id__c"] for row in engine.emulator.records("Account")} & set(ids))
    return int(engine.emulator.counters()["api_calls_total"]), elapsed, synchronized


def _baseline_calls(engine: Any, count: int, *, per_record: bool) -> tuple[int, float]:
    """The same kind of rows sent with plain Collections (200 a call) or one REST upsert each."""
    from simple_salesforce.api import Salesforce, SFType

    http = requests.Session()
    http.trust_env = False
    http.verify = engine.emulator.ca_path
    sf = Salesforce(
        instance_url=engine.emulator.url, session_id=engine.emulator.issue_token(), session=http, version="60.0"
    )
    rows = [{"Hub_Id__c": f"base-{uuid.uuid4().hex[:6]}-{i}", "Name": f"Baseline {i}"} for i in range(count)]
    engine.emulator.reset_counters()
    started = time.perf_counter()
    if per_record:
        accounts = SFType("Account", sf.session_id, sf.sf_instance, sf_version="60.0", session=http)
        for row in rows:
            accounts.upsert(f"Hub_Id__c/{row['Hub_Id__c']}", {"Name": row["Name"]})
    else:
        for start in range(0, count, 200):
            chunk = [{"attributes": {"type": "Account"}, **row} for row in rows[start : start + 200]]
            sf.restful(
                "composite/sobjects/Account/Hub_Id__c", method="PATCH", json={"allOrNone": False, "records": chunk}
            )
    return int(engine.emulator.counters()["api_calls_total"]), time.perf_counter() - started


def export_burst() -> None:
    from benchmarks.moto_speedups import faster_moto
    from tests.support.engine import running_engine

    rows = []
    with faster_moto(), running_engine() as engine:
        # SQS fills a 1,000-message batch well within the template's 1 s window; moto receives ten times
        # slower, so the benchmark's source waits until the batch is full (or the queue empty) instead.
        engine.exports.batching_window_seconds = 120
        for count in BURSTS:
            calls, seconds, synchronized = _burst(engine, count)
            bound = 1.05 * math.ceil(count / 1000) + 2
            rows.append((count, "hub: export_worker, batches of 1,000", calls, f"{bound:.1f}", f"{seconds:.1f}"))
            assert synchronized == count, f"only {synchronized} of {count} reached the emulator"
            collections, collections_s = _baseline_calls(engine, count, per_record=False)
            rows.append((count, "plain sObject Collections, 200 a call", collections, "", f"{collections_s:.1f}"))
            if count <= PER_RECORD_LIMIT:
                single, single_s = _baseline_calls(engine, count, per_record=True)
                rows.append((count, "one REST upsert per record", single, "", f"{single_s:.1f}"))
            else:
                rows.append((count, "one REST upsert per record (not run: one call each)", count, "", ""))
    print_table(
        "Export burst: Salesforce API calls (hub figures include its one GET /limits a day-figure refresh)",
        ["records", "approach", "API calls", "bound 1.05 x ceil(N/1000) + 2", "wall s"],
        rows,
    )


# ---------------------------------------------------------------- 2. DynamoDB requests per inbound change
class _DynamoCalls:
    """Counts the hub client's DynamoDB requests, and the items they touch (a one-item-per-request baseline)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items = 0

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests[model.name] += 1
        if model.name == "BatchGetItem":
            self.items += sum(len(table["Keys"]) for table in params["RequestItems"].values())
        elif model.name == "TransactWriteItems":
            self.items += len(params["TransactItems"])
        else:
            self.items += 1

    def reset(self) -> None:
        self.requests.clear()
        self.items = 0


def import_requests() -> None:
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.domain.entities import EntityName
    from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource
    from tests.support.engine import running_engine

    rows = []
    with running_engine() as engine:
        calls = _DynamoCalls()
        dynamodb_client().meta.events.register("provide-client-params.dynamodb.*", calls)
        now = datetime.now(UTC)
        warm_id = engine.emulator.seed("Account", [{"Name": "Warm-up"}])[0]
        salesforce_id = engine.emulator.seed("Account", [{"Name": "Imported"}])[0]

        def change(change_id: str, stamp: datetime, **values: Any) -> Change:
            return Change(
                direction=ChangeDirection.FROM_SALESFORCE,
                entity=EntityName.ACCOUNT,
                salesforce_id=salesforce_id,
                source=ChangeSource.CHANGE_EVENT,
                change_id=change_id,
                stamp=stamp,
                values=values,
            )

        # A first change in a new container also reads the entity's sync configuration (cached afterwards).
        cases: list[tuple[str, Callable[[], None]]] = [
            (
                "first change in a container (new record)",
                lambda: engine.put_inbound(
                    change("w:1", now).model_copy(update={"salesforce_id": warm_id, "values": {"Name": "Warm-up"}})
                ),
            ),
            ("new Salesforce record", lambda: engine.put_inbound(change("c:1", now, Name="Imported"))),
            (
                "update of a linked record",
                lambda: engine.put_inbound(change("c:2", now + timedelta(seconds=1), Phone="1")),
            ),
            (
                "duplicate delivery",
                lambda: engine.put_inbound(
                    change("c:2", now + timedelta(seconds=1), Phone="1").model_copy(update={"change_id": "c:2-again"})
                ),
            ),
        ]
        for name, send in cases:
            send()
            calls.reset()
            engine.imports.poll_batch()
            requests_made = sum(calls.requests.values())
            detail = ", ".join(f"{operation} {count}" for operation, count in sorted(calls.requests.items()))
            rows.append((name, requests_made, detail, calls.items))
    print_table(
        "Import: DynamoDB requests per inbound change (sync_worker, counted on the hub's client; bound 3)",
        ["change", "requests", "which", "one item per request (baseline)"],
        rows,
    )


# ---------------------------------------------------------------- 3. local stack latency
def _answers(url: str, key: str, expected: Any) -> Callable[[], bool]:
    """Whether GET url answers `expected` under `key` (for a dict: those items at least)."""

    def check() -> bool:
        value = requests.get(url, timeout=10).json().get(key)
        if isinstance(expected, dict):
            return isinstance(value, dict) and all(value.get(name) == item for name, item in expected.items())
        return bool(value == expected)

    return check


def local_latency() -> None:
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    from local.stack import LocalStack, LocalStackConfig
    from sync_core.adapters.aws import clear_clients
    from sync_core.adapters.salesforce import clear_salesforce_caches
    from sync_core.config import get_settings
    from sync_core.domain.entities import EntityName
    from sync_core.domain.sync.changes import Change, ChangeDirection, ChangeSource

    # A fresh "container": the earlier benchmarks' clients point at their in-process moto.
    DEFAULT_PROVIDERS.clear()
    for clear in (get_settings.cache_clear, clear_clients, clear_salesforce_caches):
        clear()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per poll
    config = LocalStackConfig(moto_port=0, gateway_port=0, emulator_port=0, seed_demo_data=False, log_level="ERROR")
    exports: list[float] = []
    imports: list[float] = []
    with LocalStack(config).running() as stack:
        api = stack.api_url

        def wait(predicate: Callable[[], bool], started: float) -> float:
            deadline = started + 30
            while not predicate():
                if time.perf_counter() > deadline:
                    raise TimeoutError("the sync did not finish within 30 s")
                time.sleep(0.01)
            return (time.perf_counter() - started) * 1000

        for index in range(LATENCY_RUNS):
            started = time.perf_counter()
            created = requests.post(f"{api}/records/Account", json={"name": f"Latency {index}"}, timeout=10).json()
            status_url = f"{api}/records/Account/{created['id']}/sync-status"
            exports.append(wait(_answers(status_url, "status", "Synchronized"), started))
            salesforce_id = requests.get(status_url, timeout=10).json()["external_ref"]
            phone = f"+1 555 {index:04d}"
            change = Change(
                direction=ChangeDirection.FROM_SALESFORCE,
                entity=EntityName.ACCOUNT,
                salesforce_id=salesforce_id,
                source=ChangeSource.CHANGE_EVENT,
                change_id=f"latency-{index}",
                stamp=datetime.now(UTC) + timedelta(seconds=1),
                values={"Phone": phone},
            )
            record_url = f"{api}/records/Account/{created['id']}"
            started = time.perf_counter()
            requests.post(f"{api}/__local/queues/SyncQueue", data=change.model_dump_json(), timeout=10)
            imports.append(wait(_answers(record_url, "fields", {"phone": phone}), started))
    print_table(
        f"Local stack (`python -m local`): time until the other side has the change, {LATENCY_RUNS} records each",
        ["direction", "p50 ms", "p95 ms", "max ms"],
        [
            ("hub write -> emulator (Synchronized)", percentile(exports, 0.5), percentile(exports, 0.95), max(exports)),
            ("sync queue -> hub record", percentile(imports, 0.5), percentile(imports, 0.95), max(imports)),
        ],
    )
    print(
        "The local stream source polls every 0.5 s and the queues' sources long-poll; in AWS the export queue's"
        " 1 s batching window adds up to a second."
    )


def run() -> None:
    _environment()
    export_burst()
    import_requests()
    local_latency()


if __name__ == "__main__":
    run()
