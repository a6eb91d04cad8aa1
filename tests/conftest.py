"""Test-wide setup: fake AWS credentials, Powertools test settings, a Lambda context, events and moto tables."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

# Set before any test module imports boto3 or Powertools: never reach a real AWS account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "sync-hub",
        "POWERTOOLS_METRICS_NAMESPACE": "SalesforceSyncHubTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
os.environ.pop("AWS_PROFILE", None)


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "7f1b3a55-1f1e-4a0b-9a57-0e1c6b0c2f11"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/22/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def load_event(name: str) -> dict[str, Any]:
    """One of the real-shaped sample events in events/ (shared with `sam local invoke -e`)."""
    event: dict[str, Any] = json.loads((REPO / "events" / f"{name}.json").read_text())
    return event


@pytest.fixture(autouse=True)
def _fresh_settings_and_clients() -> Iterator[None]:
    """Settings and boto3 clients are cached per container; each test starts from its own environment."""
    from sync_core.adapters.aws import clear_clients
    from sync_core.adapters.idempotency import idempotency_persistence
    from sync_core.config import get_settings

    for clear in (get_settings.cache_clear, clear_clients, idempotency_persistence.cache_clear):
        clear()
    yield
    for clear in (get_settings.cache_clear, clear_clients, idempotency_persistence.cache_clear):
        clear()


@pytest.fixture(autouse=True)
def _clear_metrics() -> Iterator[None]:
    from sync_core.observability import metrics

    yield
    metrics.clear_metrics()
