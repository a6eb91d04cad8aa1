"""Scheduled sync and first loads, each figure beside its baseline measured in the same run.

1. Initial pull of 50,000 records from the emulator by the scheduled sync's tick: REST `queryAll` paging (the
   threshold set above the pull) against Bulk API 2.0 (the default threshold), in Salesforce requests and wall
   time; the issue's target is Bulk 2.0 in at most 10 requests for the whole pull.
2. A scheduled run over an entity with no changes since its watermark: Salesforce requests, against reading the
   entity whole again (a pull without a watermark). Target: at most one request.
3. A first load of 10,000 hub records to an empty org (all "create in Salesforce"): Salesforce API calls of the
   export it queues, against ceil(N/1000).
moto's SQS is made to scale (benchmarks/moto_speedups.py); the wall times include moto's in-process SQS.
"""

from __future__ import annotations

import math
import os
import time
from datetime import UTC, datetime
from typing import Any

from benchmarks.common import print_table

PULL_RECORDS = int(os.environ.get("BENCH_PULL_RECORDS", "50000"))
FIRST_LOAD_RECORDS = int(os.environ.get("BENCH_FIRST_LOAD_RECORDS", "10000"))
WEEKLY = {"kind": "weekly", "at": "12:00", "weekday": (datetime.now(UTC).weekday() + 2) % 7}


def _configure(engine: Any, entity: str, **fields: Any) -> None:
    from sync_core.adapters.aws import dynamodb_client
    from sync_core.adapters.dynamodb.config import DynamoSyncConfigStore
    from sync_core.domain.sync_config import EntitySyncConfig

    store = DynamoSyncConfigStore(dynamodb_client(), sync_config_table=engine.environment["SYNC_CONFIG_TABLE"])
    store.put(EntitySyncConfig.model_validate({"entity": entity, **fields}))


def _fresh_container(**variables: str) -> None:
    """Settings for the next tick: the scheduled sync's handler builds its service again."""
    import functions.scheduled_sync.app as app
    from sync_core.config import get_settings

    os.environ.update(variables)
    get_settings.cache_clear()
    app._service.cache_clear()


def _forget_runs(engine: Any, entity: str) -> None:
    from sync_core.adapters.aws import dynamodb_client

    dynamodb_client().delete_item(
        TableName=engine.environment["SYNC_STATE_TABLE"], Key={"pk": {"S": "SCHEDULE"}, "sk": {"S": entity}}
    )


def _time_passes(engine: Any, entity: str) -> None:
    from sync_core.adapters.aws import dynamodb_client

    dynamodb_client().update_item(
        TableName=engine.environment["SYNC_STATE_TABLE"],
        Key={"pk": {"S": "SCHEDULE"}, "sk": {"S": entity}},
        UpdateExpression="SET last_run = :long_ago",
        ExpressionAttributeValues={":long_ago": {"S": "2025-01-01T00:00:00.000000+00:00"}},
    )


def _tick(engine: Any) -> tuple[dict[str, Any], int, float]:
    """(the entity's report, Salesforce requests, wall seconds) of one tick."""
    engine.emulator.reset_counters()
    started = time.perf_counter()
    [entry] = engine.tick()["entities"]
    elapsed = time.perf_counter() - started
    return entry, int(engine.emulator.counters()["api_calls_total"]), elapsed


def pulls() -> None:
    from benchmarks.moto_speedups import faster_moto
    from tests.support.engine import running_engine

    rows: list[tuple[object, ...]] = []
    with faster_moto(), running_engine() as engine:
        for start in range(0, PULL_RECORDS - 1, 5000):
            end = min(start + 5000, PULL_RECORDS - 1)
            engine.emulator.seed(
                "Account", [{"Name": f"Pulled {n}", "BillingCity": "Leeds"} for n in range(start, end)]
            )
        # The last change ten minutes after the others: a later run's overlap window (2 minutes before the
        # watermark) holds only it, as for an entity whose changes were not all made within two minutes.
        engine.emulator.advance_clock(600)
        engine.emulator.seed("Account", [{"Name": "Pulled last", "BillingCity": "Leeds"}])
        _configure(engine, "Account", schedule=WEEKLY)
        for label, threshold in (("REST queryAll, 2,000 rows a page", str(10**9)), ("Bulk API 2.0 queryAll", "10000")):
            _fresh_container(PULL_BULK_THRESHOLD=threshold, PULL_MAX_CHANGES_PER_RUN=str(PULL_RECORDS))
            _forget_runs(engine, "Account")
            entry, calls, seconds = _tick(engine)
            assert entry["complete"] and entry["pulled"] == PULL_RECORDS, entry
            rows.append((f"{PULL_RECORDS:,}", label, entry["via"], calls, f"{seconds:.1f}"))
        print_table(
            "Initial pull (scheduled sync): Salesforce requests and wall time, target Bulk 2.0 <= 10 requests",
            ["records", "approach", "via", "requests", "wall s (incl. queueing every change)"],
            rows,
        )

        # 2. No changes since the watermark, beside reading the entity whole again.
        _fresh_container(PULL_BULK_THRESHOLD=str(10**9))
        _time_passes(engine, "Account")
        entry, calls, _ = _tick(engine)
        # The one change queued again is the overlap window's repeat of the last change: a no-op in the engine.
        quiet = [("no changes since the watermark", entry["pulled"], calls)]
        _forget_runs(engine, "Account")
        entry, full_calls, _ = _tick(engine)
        quiet.append(("baseline: the entity read whole again (no watermark)", entry["pulled"], full_calls))
        print_table(
            "A scheduled run over an entity with no changes (target: at most 1 Salesforce request)",
            ["run", "changes queued", "Salesforce requests"],
            quiet,
        )


def first_load() -> None:
    from benchmarks.moto_speedups import faster_moto
    from benchmarks.sync_engine import _write_changed_accounts
    from sync_core.adapters.schedule_factory import build_first_load
    from sync_core.config import get_settings
    from sync_core.domain.entities import EntityName
    from tests.support.engine import running_engine

    with faster_moto(), running_engine() as engine:
        engine.exports.batching_window_seconds = 120  # as in the export-burst benchmark: full batches
        _configure(engine, "Account", status="Stopped")
        _write_changed_accounts(engine, "FL", FIRST_LOAD_RECORDS)
        engine.run_stream(max_rounds=10_000)  # passed over: the entity was stopped while the hub filled up
        _configure(engine, "Account")
        engine.emulator.reset_counters()
        started = time.perf_counter()
        report = build_first_load(get_settings()).first_load(EntityName.ACCOUNT, dry_run=False).as_dict()
        read_calls = int(engine.emulator.counters()["api_calls_total"])
        engine.drain(max_rounds=FIRST_LOAD_RECORDS // 100 + 20)
        elapsed = time.perf_counter() - started
        calls = int(engine.emulator.counters()["api_calls_total"])
        created = sum(1 for row in engine.emulator.records("Account") if str(row.get("Hub_Id__c", "")).startswith("FL"))
        assert created == FIRST_LOAD_RECORDS and report["counts"]["create in Salesforce"] == FIRST_LOAD_RECORDS
        print_table(
            "First load of hub records to an empty org: Salesforce API calls",
            ["records", "approach", "API calls", "of which reading the org", "ceil(N/1000)", "wall s"],
            [
                (
                    f"{FIRST_LOAD_RECORDS:,}",
                    "first_load + export_worker",
                    calls,
                    read_calls,
                    math.ceil(FIRST_LOAD_RECORDS / 1000),
                    f"{elapsed:.1f}",
                )
            ],
        )


def run() -> None:
    from benchmarks.sync_engine import _environment

    _environment()
    pulls()
    first_load()


if __name__ == "__main__":
    run()
