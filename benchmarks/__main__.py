"""Run every benchmark: python -m benchmarks (make bench)."""

from __future__ import annotations

from benchmarks import (
    case_assignment_rules,
    cold_start,
    realtime,
    records_api,
    salesforce_writes,
    schedules,
    sync_engine,
)

for benchmark in (cold_start, records_api, salesforce_writes, case_assignment_rules, sync_engine, realtime, schedules):
    benchmark.run()
