"""Cached boto3 clients and resources with explicit timeouts and retries (AWS_ENDPOINT_URL points them at moto)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from sync_core.adapters.dynamodb.errors import classify_retryable_errors
from sync_core.config import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient, DynamoDBServiceResource
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Lambda's API Gateway limit is 29 s: fail fast and let the standard retry mode back off a few times.
BOTO_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 4, "mode": "standard"},
    tcp_keepalive=True,
)


def _client_kwargs() -> dict[str, Any]:
    settings = get_settings()
    kwargs: dict[str, Any] = {"config": BOTO_CONFIG, "region_name": settings.aws_region}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    return kwargs


@cache
def dynamodb_client() -> DynamoDBClient:
    """The DynamoDB client every adapter shares; what a retry may fix is raised as RetryableError."""
    return classify_retryable_errors(boto3.client("dynamodb", **_client_kwargs()))


@cache
def dynamodb_resource() -> DynamoDBServiceResource:
    return boto3.resource("dynamodb", **_client_kwargs())


@cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", **_client_kwargs())


@cache
def secretsmanager_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", **_client_kwargs())


def clear_clients() -> None:
    """Forget cached clients (tests: after moto starts or the environment changes)."""
    for factory in (dynamodb_client, dynamodb_resource, sqs_client, secretsmanager_client):
        factory.cache_clear()
