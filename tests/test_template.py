"""Invariants of template.yaml, and the OpenAPI document kept true to the routes the template declares."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tools.openapi import OPENAPI_PATH, generate, render
from tools.template_info import REPO, api_routes, function_module, template

RESOURCES: dict[str, Any] = template()["Resources"]
FUNCTIONS = {name: spec for name, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function"}
GLOBAL_FUNCTION = template()["Globals"]["Function"]


def test_runtime_is_the_python_the_tests_run_on() -> None:
    assert GLOBAL_FUNCTION["Runtime"] == f"python{sys.version_info.major}.{sys.version_info.minor}"
    for layer in ("SyncCoreLayer", "SalesforceLayer"):
        assert RESOURCES[layer]["Metadata"]["BuildMethod"] == GLOBAL_FUNCTION["Runtime"]


def test_functions_run_on_arm64_with_tracing_and_powertools_settings() -> None:
    assert GLOBAL_FUNCTION["Architectures"] == ["arm64"]
    assert GLOBAL_FUNCTION["Tracing"] == "Active"
    variables = GLOBAL_FUNCTION["Environment"]["Variables"]
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= set(variables)


@pytest.mark.parametrize("name", [n for n, s in RESOURCES.items() if s["Type"] == "AWS::DynamoDB::Table"])
def test_tables_are_on_demand_encrypted_with_point_in_time_recovery(name: str) -> None:
    props = RESOURCES[name]["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_records_table_streams_new_and_old_images() -> None:
    assert RESOURCES["RecordsTable"]["Properties"]["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_sync_queue_is_fifo_with_a_fifo_dead_letter_queue_and_long_enough_visibility() -> None:
    queue = RESOURCES["SyncQueue"]["Properties"]
    dlq = RESOURCES["SyncDeadLetterQueue"]["Properties"]
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]}
    consumers = [
        spec["Properties"].get("Timeout", GLOBAL_FUNCTION["Timeout"])
        for spec in FUNCTIONS.values()
        for event in spec["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert queue["VisibilityTimeout"] >= 6 * max([GLOBAL_FUNCTION["Timeout"], *consumers])


def test_every_sqs_mapping_reports_batch_item_failures() -> None:
    for spec in FUNCTIONS.values():
        for event in spec["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                assert "ReportBatchItemFailures" in event["Properties"].get("FunctionResponseTypes", [])


def test_every_api_route_is_authorised_by_iam_or_jwt() -> None:
    for route in api_routes():
        assert route.authorization == {"Fn::If": ["UseJwtAuth", "JWT", "AWS_IAM"]}, route


def test_policies_use_sam_templates_or_named_actions_never_wildcards() -> None:
    for name, spec in FUNCTIONS.items():
        for policy in spec["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all(action != "*" and not action.endswith(":*") for action in actions), name


def _salesforce_layer_users() -> set[str]:
    return {
        name for name, spec in FUNCTIONS.items() if {"Ref": "SalesforceLayer"} in spec["Properties"].get("Layers", [])
    }


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_without_the_salesforce_layer_never_import_simple_salesforce(name: str) -> None:
    if name in _salesforce_layer_users():
        pytest.skip(f"{name} calls Salesforce")
    code = f"import sys, {function_module(name)}; print('simple_salesforce' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO / 'layers' / 'sync_core'}:{REPO}", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "False"


def _route_pattern(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{[^}]+\+\}", ".+", path)
    pattern = re.sub(r"\{[^}]+\}", "[^/]+", pattern)
    return re.compile(f"^{pattern}$")


def test_openapi_document_is_the_one_the_resolvers_generate() -> None:
    assert json.loads(OPENAPI_PATH.read_text()) == json.loads(render(generate())), "run `make openapi`"


def test_every_openapi_path_is_served_by_a_template_route_to_the_function_that_documents_it() -> None:
    documented = json.loads(OPENAPI_PATH.read_text())["paths"]
    routes = api_routes()
    for path, operations in documented.items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in operations:
            assert any(
                _route_pattern(route.path).match(concrete) and route.method in ("ANY", method.upper())
                for route in routes
            ), f"{method.upper()} {path} has no route in template.yaml"


def test_every_template_route_has_documented_operations() -> None:
    documented = [re.sub(r"\{[^}]+\}", "x", path) for path in json.loads(OPENAPI_PATH.read_text())["paths"]]
    for route in api_routes():
        assert any(_route_pattern(route.path).match(path) for path in documented), route


def test_openapi_document_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(json.loads(OPENAPI_PATH.read_text()))
