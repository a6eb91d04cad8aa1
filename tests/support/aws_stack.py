"""In-process moto with the hub's tables and queues created from template.yaml (for integration tests)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto import mock_aws

from tools.template_info import template

STATEFUL_TYPES = {"AWS::DynamoDB::Table", "AWS::SQS::Queue"}
ENV_FROM_RESOURCES = {
    "RECORDS_TABLE": "RecordsTable",
    "SYNC_STATE_TABLE": "SyncStateTable",
    "SYNC_CONFIG_TABLE": "SyncConfigTable",
    "ERROR_LOG_TABLE": "ErrorLogTable",
    "IDEMPOTENCY_TABLE": "IdempotencyTable",
    "SYNC_QUEUE_URL": "SyncQueue",
}


@contextmanager
def hub_aws_environment(stack_name: str = "sync-hub-test") -> Iterator[dict[str, str]]:
    """Start moto, create the template's stateful resources, and export the functions' environment."""
    stateful = {name: spec for name, spec in template()["Resources"].items() if spec["Type"] in STATEFUL_TYPES}
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps({"Resources": stateful}))
        physical = {
            resource["LogicalResourceId"]: resource["PhysicalResourceId"]
            for resource in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        }
        environment = {name: physical[logical] for name, logical in ENV_FROM_RESOURCES.items()}
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        try:
            yield environment
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
