"""Fault injection (deterministic with a seed), added latency, request counters and the daily API allocation."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import TOTAL_REQUESTS_MESSAGE, SalesforceError

DEFAULT_MESSAGES = {
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record or 1 records: {id}",
    "SERVER_UNAVAILABLE": "Server temporarily unavailable. Try again later.",
    "REQUEST_LIMIT_EXCEEDED": TOTAL_REQUESTS_MESSAGE,
    "INVALID_SESSION_ID": "Session expired or invalid",
    "UNKNOWN_EXCEPTION": "An unexpected error occurred. Please include this ErrorId if you contact support: "
    "1234567890-12345 (-1234567890)",
    "QUERY_TIMEOUT": "Your query request was running for too long.",
}


SCOPES = ("request", "record", "subrequest")


def _unversioned(path: str) -> str:
    """/services/data/v60.0/sobjects/Account -> /sobjects/Account (rules may name either form)."""
    return re.sub(r"^/services/data/v\d+\.\d", "", path)


@dataclass
class FaultRule:
    """Fail matching requests: `kind` (endpoint kind) and/or `path_prefix` and/or `path_suffix` and/or `method`,
    with probability `rate`, at most `count` times (None = unlimited), after letting the first `skip` matches pass.

    `scope="request"` fails the whole HTTP request; `scope="record"` fails single rows of Collections / Bulk requests
    (per-row errors in a 200 answer); `scope="subrequest"` fails single subrequests of a Composite request (the
    subrequest's `httpStatusCode` and error array inside the 200 `compositeResponse`; `kind`, `path_prefix`,
    `path_suffix` and `method` are then those of the subrequest)."""

    status: int = 503
    error_code: str = "SERVER_UNAVAILABLE"
    message: str | None = None
    kind: str | None = None
    path_prefix: str | None = None
    path_suffix: str | None = None
    method: str | None = None
    rate: float = 1.0
    count: int | None = None
    skip: int = 0
    latency_ms: int = 0
    scope: str = "request"
    id: int = 0
    fired: int = 0

    def matches(self, kind: str, path: str, method: str, scope: str) -> bool:
        return (
            self.scope == scope
            and (self.kind is None or self.kind == kind)
            and (
                self.path_prefix is None
                or path.startswith(self.path_prefix)
                or _unversioned(path).startswith(self.path_prefix)
            )
            and (self.path_suffix is None or path.rstrip("/").endswith(self.path_suffix.rstrip("/")))
            and (self.method is None or self.method.upper() == method.upper())
            and (self.count is None or self.count > 0)
        )

    def error(self, record_id: str = "") -> SalesforceError:
        text = self.message or DEFAULT_MESSAGES.get(self.error_code, self.error_code)
        return SalesforceError(self.status, self.error_code, text.format(id=record_id), include_fields=False)


class Faults:
    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self.latency_ms = 0
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> FaultRule:
        allowed = set(FaultRule.__dataclass_fields__) - {"id", "fired"}
        unknown = set(spec) - allowed
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        rule = FaultRule(**spec)
        if not 0.0 <= rule.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if rule.scope not in SCOPES:
            raise ValueError(f"scope must be one of {list(SCOPES)}")
        if rule.skip < 0:
            raise ValueError("skip must not be negative")
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency_ms = 0
            self._rng = random.Random(self._seed)

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._rules]

    def pick(self, kind: str, path: str, method: str, scope: str = "request") -> FaultRule | None:
        """The first matching rule that fires this time (consumes one of its `count`).

        A match a rule lets pass because of `skip` consumes one of its `skip` and draws no random number."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(kind, path, method, scope):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if self._rng.random() < rule.rate:
                    if rule.count is not None:
                        rule.count -= 1
                    rule.fired += 1
                    return rule
        return None

    def global_latency(self) -> float:
        with self._lock:
            return self.latency_ms / 1000.0


@dataclass
class Counters:
    requests: Counter[str] = field(default_factory=Counter)
    api_calls: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] += 1

    def charged(self, kind: str) -> None:
        with self.lock:
            self.api_calls[kind] += 1

    def fault(self, code: str) -> None:
        with self.lock:
            self.faults[code] += 1

    def status(self, kind: str, status: int) -> None:
        with self.lock:
            self.statuses[f"{kind}:{status}"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "api_calls": dict(self.api_calls),
                "api_calls_total": sum(self.api_calls.values()),
                "requests_total": sum(self.requests.values()),
                "faults": dict(self.faults),
                "statuses": dict(self.statuses),
            }

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.api_calls.clear()
            self.faults.clear()
            self.statuses.clear()


class ApiLimits:
    """DailyApiRequests: every charged call adds one; once used reaches max, calls are refused (403)."""

    def __init__(self, maximum: int) -> None:
        self.max = maximum
        self.used = 0
        self._lock = threading.Lock()

    def charge(self) -> None:
        with self._lock:
            if self.used >= self.max:
                raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", TOTAL_REQUESTS_MESSAGE, include_fields=False)
            self.used += 1

    def exhausted(self) -> bool:
        with self._lock:
            return self.used >= self.max

    def header(self) -> str:
        with self._lock:
            return f"api-usage={self.used}/{self.max}"

    def set(self, maximum: int | None = None, used: int | None = None) -> None:
        with self._lock:
            if maximum is not None:
                self.max = maximum
            if used is not None:
                self.used = used

    def remaining(self) -> int:
        with self._lock:
            return max(self.max - self.used, 0)
