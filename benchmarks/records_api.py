"""records_api in-process on moto: handler latency against the raw DynamoDB calls it makes (the baseline)."""

from __future__ import annotations

import os
from typing import Any

import boto3

from benchmarks.common import print_table, sample_ms, summary
from tests.support.api import call, http_event
from tests.support.aws_stack import hub_aws_environment

RUNS = 200


def run() -> None:
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    with hub_aws_environment("sync-hub-bench"):
        from functions.records_api import app

        app._service.cache_clear()
        client = boto3.client("dynamodb", region_name="us-east-1")
        table = os.environ["RECORDS_TABLE"]
        body = {"name": "Van Dijk Logistics B.V.", "industry": "Transportation", "custom_fields": {"Region": "EMEA"}}

        def create() -> Any:
            return call(app.lambda_handler, http_event("POST", "/records/Account", route_key="x", body=body))

        record_id = create().body["id"]

        def read() -> Any:
            return call(app.lambda_handler, http_event("GET", f"/records/Account/{record_id}", route_key="x"))

        def raw_put() -> Any:
            return client.put_item(TableName=table, Item={"pk": {"S": "Bench"}, "sk": {"S": "x"}, "v": {"N": "1"}})

        def raw_get() -> Any:
            return client.get_item(TableName=table, Key={"pk": {"S": "Bench"}, "sk": {"S": "x"}})

        rows = []
        for name, action, baseline in (
            ("POST /records/Account", create, raw_put),
            ("GET /records/Account/{id}", read, raw_get),
        ):
            measured = summary(sample_ms(action, runs=RUNS))
            base = summary(sample_ms(baseline, runs=RUNS))
            rows.append((name, *measured, base[0], f"{measured[0] / base[0]:.2f}"))
        print_table(
            f"records_api through the handler on in-process moto ({RUNS} calls each, ms)",
            ["route", "median", "p95", "max", "baseline: one raw DynamoDB call, median", "x baseline"],
            rows,
        )
        print(
            "\nA create is a sequence update, a transaction of two puts and Powertools validation;"
            " a read is one consistent get."
        )
