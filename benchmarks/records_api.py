"""records_api in-process on moto: handler latency against the raw DynamoDB calls it makes (the baseline)."""

from __future__ import annotations

import os
from typing import Any

import boto3

from benchmarks.common import print_table, sample_interleaved_ms, summary
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

        state_table = os.environ["SYNC_STATE_TABLE"]
        counter = iter(range(10**9))

        def raw_create() -> Any:
            """The same DynamoDB calls a create makes (sequence, then a two-put transaction), made directly."""
            client.update_item(
                TableName=os.environ["SYNC_CONFIG_TABLE"],
                Key={"pk": {"S": "SEQUENCE"}, "sk": {"S": "bench"}},
                UpdateExpression="ADD current_value :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
            key = {"pk": {"S": "Bench"}, "sk": {"S": str(next(counter))}}
            return client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {**key, "v": {"N": "1"}}}},
                    {"Put": {"TableName": state_table, "Item": {**key, "s": {"S": "Modified Locally"}}}},
                ]
            )

        def raw_get() -> Any:
            return client.get_item(TableName=table, Key={"pk": {"S": "Bench"}, "sk": {"S": "0"}}, ConsistentRead=True)

        rows = []
        for name, action, baseline in (
            ("POST /records/Account", create, raw_create),
            ("GET /records/Account/{id}", read, raw_get),
        ):
            measured_ms, baseline_ms = sample_interleaved_ms(action, baseline, runs=RUNS)
            measured, base = summary(measured_ms), summary(baseline_ms)
            rows.append((name, *measured, base[0], f"{measured[0] / base[0]:.2f}"))
        print_table(
            f"records_api through the handler on in-process moto ({RUNS} calls each, ms)",
            ["route", "median", "p95", "max", "baseline: same DynamoDB calls made directly, median", "x baseline"],
            rows,
        )
        print(
            "\nThe ratio is the handler's own cost (event parsing, pydantic validation, serialisation) on top of"
            " moto's DynamoDB; against real DynamoDB the calls dominate even more."
        )
