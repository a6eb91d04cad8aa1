"""`make run` starts again right after Ctrl-C, on the same ports; a port another program holds is named."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from local.stack import HOST, free_port
from tools.template_info import REPO

PORTS = ("HUB_MOTO_PORT", "HUB_GATEWAY_PORT")


def _environment(ports: dict[str, int]) -> dict[str, str]:
    environment = {**os.environ, **{name: str(port) for name, port in ports.items()}, "PYTHONUNBUFFERED": "1"}
    environment |= {"HUB_EMULATOR": "0", "HUB_SEED": "0"}  # just moto and the gateway: quick to start
    for name in ("AWS_ENDPOINT_URL", "RECORDS_TABLE", "SYNC_QUEUE_URL"):
        environment.pop(name, None)
    return environment


@contextmanager
def _make_run(ports: dict[str, int]) -> Iterator[subprocess.Popen[str]]:
    """`python -m local` until it says ready (or exits), stopped with Ctrl-C."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local"],
        cwd=REPO,
        env=_environment(ports),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _until_ready(process: subprocess.Popen[str]) -> str:
    """The console up to "ready", or all of it if the stack exits first."""
    assert process.stdout is not None
    console = []
    for line in process.stdout:
        console.append(line)
        if line.strip() == "ready":
            break
    return "".join(console)


def test_the_stack_starts_again_at_once_on_the_ports_it_just_left() -> None:
    ports = {name: free_port() for name in PORTS}
    with _make_run(ports) as first:
        assert _until_ready(first).endswith("ready\n")
        # Clients still connected at Ctrl-C: the server closes first, so its side of each connection
        # lingers (FIN_WAIT/TIME_WAIT) on the server's port after the process is gone.
        clients = [socket.create_connection((HOST, port), timeout=10) for port in ports.values()]
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=30) == 0
    try:
        with _make_run(ports) as second:
            console = _until_ready(second)
            assert console.endswith("ready\n"), console
            assert f"{HOST}:{ports['HUB_GATEWAY_PORT']}" in console
    finally:
        for client in clients:
            client.close()


@pytest.mark.parametrize("taken", PORTS)
def test_a_port_another_program_listens_on_is_refused_with_its_variable(taken: str) -> None:
    ports = {name: free_port() for name in PORTS}
    with socket.socket() as holder:
        holder.bind((HOST, ports[taken]))
        holder.listen()
        with _make_run(ports) as process:
            console = _until_ready(process)
            assert process.wait(timeout=30) == 1
    assert f"{HOST}:{ports[taken]} is in use; set {taken} to another port" in console
