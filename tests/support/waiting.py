"""Polling for something a background thread or another process makes true (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01, message: str = "condition"
) -> Any:
    """The predicate's first truthy value; AssertionError naming `message` if none comes within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout} s")
        time.sleep(interval)
