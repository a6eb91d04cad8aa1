"""Run every benchmark: python -m benchmarks (make bench)."""

from __future__ import annotations

from benchmarks import cold_start, records_api, salesforce_writes

for benchmark in (cold_start, records_api, salesforce_writes):
    benchmark.run()
