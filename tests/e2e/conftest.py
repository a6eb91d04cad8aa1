"""The local stack, started as a user starts it (`python -m local`) on free ports, for end-to-end tests."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from local.stack import free_port
from tools.template_info import REPO

STARTUP_SECONDS = 120


@dataclass
class RunningLocalStack:
    api_url: str
    aws_endpoint: str
    salesforce_url: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def console(self) -> str:
        return "".join(self.output)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[RunningLocalStack]:
    ports = {name: free_port() for name in ("HUB_MOTO_PORT", "HUB_GATEWAY_PORT", "HUB_EMULATOR_PORT")}
    environment = {**os.environ, **{name: str(port) for name, port in ports.items()}, "PYTHONUNBUFFERED": "1"}
    environment.setdefault("HUB_EMULATOR", "1")
    # Workers read an entity's sync configuration at every change (deployed: at most a minute old), so a test
    # that stops an entity or saves a configuration sees it take effect at once and leaves no stale one behind.
    environment.setdefault("SYNC_CONFIG_CACHE_SECONDS", "0")
    for name in ("AWS_ENDPOINT_URL", "RECORDS_TABLE", "SYNC_QUEUE_URL"):  # the stack sets its own
        environment.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = RunningLocalStack(
        api_url=f"http://127.0.0.1:{ports['HUB_GATEWAY_PORT']}",
        aws_endpoint=f"http://127.0.0.1:{ports['HUB_MOTO_PORT']}",
        salesforce_url=f"https://127.0.0.1:{ports['HUB_EMULATOR_PORT']}",
        process=process,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.output.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            if lines.get(timeout=max(0.1, deadline - time.monotonic())).strip() == "ready":
                break
        except queue.Empty:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"local stack did not start:\n{stack.console()}")
    try:
        yield stack
    finally:
        # Ctrl-C, as a user stops it: it must stop cleanly and promptly.
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"local stack did not stop within 30 s of Ctrl-C:\n{stack.console()[-3000:]}")
        assert code == 0, stack.console()[-3000:]
        assert "stopped" in stack.console()
