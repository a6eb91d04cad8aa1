"""Salesforce writes through the hub's adapter against the emulator: API calls charged and wall time, against
plain sObject Collections (200 records a call) and one REST call per record, measured in the same run.

The daily API allocation is what runs out first, so calls per 1,000 records is the figure that matters; the
emulator adds a fixed latency per request so that round trips weigh as they do against a real org.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import boto3
import requests
from simple_salesforce.api import Salesforce, SFType

from benchmarks.common import print_table
from tests.support.aws_stack import hub_aws_environment

LATENCY_MS = 20
SIZES = (1000, 5000)
PER_RECORD_LIMIT = 1000  # one call per record is slow by nature: measured at the smaller size only


def _records(prefix: str, count: int) -> list[dict[str, Any]]:
    return [{"Hub_Id__c": f"{prefix}-{index:06d}", "Name": f"Bench account {index}"} for index in range(count)]


def run() -> None:
    for name, value in {
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }.items():
        os.environ.setdefault(name, value)
    from local.sf_emulator import EmulatorConfig, start_emulator
    from sync_core.adapters.salesforce import build_salesforce_client
    from sync_core.config import get_settings

    emulator = start_emulator(EmulatorConfig(port=0, daily_api_limit=10_000_000))
    try:
        with hub_aws_environment("salesforce-bench"):
            secret = {
                "auth_flow": "client_credentials",
                "login_url": emulator.url,
                "client_id": "hub-client",
                "client_secret": "hub-secret",
            }
            arn = boto3.client("secretsmanager").create_secret(Name="bench", SecretString=json.dumps(secret))["ARN"]
            os.environ.update(
                {
                    "SALESFORCE_SECRET_ARN": arn,
                    "SALESFORCE_CA_BUNDLE": emulator.ca_path,
                    "SALESFORCE_API_BUDGET_SHARE": "1",
                }
            )
            get_settings.cache_clear()
            hub = build_salesforce_client(get_settings())
            http = requests.Session()
            http.trust_env = False  # REQUESTS_CA_BUNDLE would override the emulator's CA
            http.verify = emulator.ca_path
            sf = Salesforce(instance_url=emulator.url, session_id=emulator.issue_token(), session=http, version="60.0")
            emulator.set_latency(LATENCY_MS)

            def measure(action: Callable[[], object]) -> tuple[int, float]:
                emulator.reset_counters()
                start = time.perf_counter()
                action()
                elapsed = (time.perf_counter() - start) * 1000
                return int(emulator.counters()["api_calls_total"]), elapsed

            def collections(records: list[dict[str, Any]]) -> None:
                for start in range(0, len(records), 200):
                    chunk = records[start : start + 200]
                    sf.restful(
                        "composite/sobjects/Account/Hub_Id__c",
                        method="PATCH",
                        json={"allOrNone": False, "records": [{"attributes": {"type": "Account"}, **r} for r in chunk]},
                    )

            accounts = SFType("Account", sf.session_id, sf.sf_instance, sf_version="60.0", session=http)

            def per_record(records: list[dict[str, Any]]) -> None:
                for record in records:
                    fields = {key: value for key, value in record.items() if key != "Hub_Id__c"}
                    accounts.upsert(f"Hub_Id__c/{record['Hub_Id__c']}", fields)

            def hub_upsert(records: list[dict[str, Any]]) -> None:
                hub.upsert_many("Account", records, "Hub_Id__c")

            bulk_threshold = get_settings().bulk_threshold
            rows = []
            for size in SIZES:
                hub_path = "Bulk API 2.0 job" if size > bulk_threshold else "Composite of 5 Collections"
                approaches = [
                    (f"hub adapter ({hub_path})", hub_upsert),
                    ("sObject Collections, 200 a call", collections),
                ]
                if size <= PER_RECORD_LIMIT:
                    approaches.append(("one REST upsert per record", per_record))
                measured = [
                    (name, *measure(partial(write, _records(f"{index}-{size}", size))))
                    for index, (name, write) in enumerate(approaches)
                ]
                _, hub_calls, hub_ms = measured[0]
                rows += [
                    (
                        size,
                        name,
                        calls,
                        calls * 1000 / size,
                        elapsed,
                        f"{calls / hub_calls:.2f}",
                        f"{elapsed / hub_ms:.2f}",
                    )
                    for name, calls, elapsed in measured
                ]
            print(
                "\nThe hub's figures include its one GET /limits per run (the org's allocation, for the budget"
                f" governor); above SALESFORCE_BULK_THRESHOLD ({get_settings().bulk_threshold}) it runs a Bulk 2.0 job."
            )
            print_table(
                f"Upserts by external id through the emulator ({LATENCY_MS} ms added per request)",
                [
                    "records",
                    "approach",
                    "API calls",
                    "calls / 1,000 records",
                    "wall ms",
                    "x calls vs hub",
                    "x time vs hub",
                ],
                rows,
            )
    finally:
        emulator.stop()


if __name__ == "__main__":
    run()
