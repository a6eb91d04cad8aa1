"""Running a template's function in this process, the way the Lambda runtime calls a handler."""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.template_info import FunctionSpec

log = logging.getLogger("local.runtime")

Handler = Callable[[Any, Any], Any]


@dataclass
class LambdaContext:
    """The context object a Python handler receives (the attributes Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    """A function of the template, its handler imported on first use (after the environment is set).

    One execution environment: like a Lambda environment it runs one event at a time. The handler's module
    state is shared by every call here (Powertools keeps the current event, `app.current_event`, and the
    Logger's keys process-wide), so two events side by side could answer with each other's headers.
    Concurrent callers (gateway threads, event sources) wait their turn instead.
    """

    spec: FunctionSpec
    arn: str
    _handler: Handler | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _environment: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def handler(self) -> Handler:
        with self._lock:
            if self._handler is None:
                module = importlib.import_module(self.spec.module)
                self._handler = getattr(module, self.spec.handler)
            return self._handler

    def invoke(self, event: Any) -> Any:
        """Call the handler with a fresh context; exceptions propagate, as an invocation error would."""
        handler = self.handler()
        with self._environment:
            return self._invoke(handler, event)

    def _invoke(self, handler: Handler, event: Any) -> Any:
        context = LambdaContext(
            function_name=self.spec.logical_id,
            memory_limit_in_mb=self.spec.memory_size,
            invoked_function_arn=self.arn,
            timeout_seconds=self.spec.timeout,
        )
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.debug("%s request %s took %.1f ms", self.name, context.aws_request_id, elapsed_ms)
            if elapsed_ms > self.spec.timeout * 1000:
                log.warning(
                    "%s ran %.0f ms, longer than its %d s timeout: Lambda would have stopped it",
                    self.name,
                    elapsed_ms,
                    self.spec.timeout,
                )
