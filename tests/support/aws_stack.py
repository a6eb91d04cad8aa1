"""In-process moto with the hub's tables and queues created from template.yaml (for integration tests)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto import mock_aws

from local.cloudformation import StackContext, create_stateful_resources
from tools.template_info import template

# The functions' environment variables that name a table or a queue (the rest are plain settings).
RESOURCE_VARIABLES = ("_TABLE", "_QUEUE_URL")


@contextmanager
def hub_aws_environment(stack_name: str = "sync-hub-test") -> Iterator[dict[str, str]]:
    """Start moto, create the template's stateful resources, and export the tables' and queues' names
    exactly as the template's Globals (and a function's own environment) hand them to the functions."""
    doc = template()
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        physical = create_stateful_resources(session, stack_name, doc)
        context = StackContext(doc, session, stack_name, physical)
        variables = dict(doc["Globals"]["Function"]["Environment"]["Variables"])
        for resource in doc["Resources"].values():  # a function's own queues (sync administration's DLQs)
            if resource["Type"] == "AWS::Serverless::Function":
                variables |= resource["Properties"].get("Environment", {}).get("Variables", {})
        environment = {
            name: value for name, value in context.environment(variables).items() if name.endswith(RESOURCE_VARIABLES)
        }
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


@contextmanager
def dynamodb_as_atomic_as_dynamodb() -> Iterator[None]:
    """In-process moto, one DynamoDB request at a time (what local.aws_server does for the moto server).

    moto's DynamoDB takes no lock: two threads' conditional writes can both pass their checks, and a failed
    transaction restores a copy of its tables over writes other threads made meanwhile. DynamoDB evaluates a
    transaction's conditions and writes atomically, so tests that race threads serialise moto's requests: the
    races between one thread's read and another's write stay, as they are in AWS."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]
