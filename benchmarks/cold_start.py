"""Cold import cost of a handler with and without simple-salesforce (why SalesforceLayer is separate)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.common import print_table, summary

REPO = Path(__file__).resolve().parent.parent
RUNS = 7


def _import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'layers' / 'sync_core'}:{REPO}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "0",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def run() -> None:
    cases = {
        "baseline: import boto3": "import boto3",
        "records_api handler (sync_core + Powertools)": "import functions.records_api.app",
        "records_api handler + simple_salesforce": "import functions.records_api.app, simple_salesforce",
    }
    _import_ms("import functions.records_api.app, simple_salesforce")  # compile .pyc once
    results = {name: summary([_import_ms(statement) for _ in range(RUNS)]) for name, statement in cases.items()}
    baseline = results["baseline: import boto3"][0]
    print_table(
        f"Cold import time, new interpreter each run ({RUNS} runs, ms)",
        ["import", "median", "p95", "max", "x boto3"],
        [(name, *figures, f"{figures[0] / baseline:.2f}") for name, figures in results.items()],
    )
