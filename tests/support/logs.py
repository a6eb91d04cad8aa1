"""The hub's structured log lines (Powertools JSON), captured for assertions."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Lines(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@contextmanager
def captured_logs(level: str = "INFO") -> Iterator[list[dict[str, Any]]]:
    """Every line the hub's Powertools logger writes meanwhile, parsed, at `level` and above."""
    from sync_core.observability import logger

    handler = _Lines(logger.registered_formatter)
    previous = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
