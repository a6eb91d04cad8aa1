"""Fault injection (deterministic with a seed), added latency, request counters and the daily API allocation."""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
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
    """DailyApiRequests as a real org counts it: calls in a rolling window of the org's clock, allowed to overshoot.

    Each charged call is remembered (per second of the org's clock), so usage falls on its own as calls leave the
    window ("API Request Limits and Allocations": a rolling 24-hour period). A real org keeps answering for a
    while past its allocation (`Sforce-Limit-Info: api-usage=110018/100000`, "used can exceed max"): calls are
    refused with REQUEST_LIMIT_EXCEEDED only once usage reaches max * (1 + overshoot_ratio).
    """

    def __init__(
        self,
        maximum: int,
        now: Callable[[], float] | None = None,
        window_seconds: Callable[[], float] | float = 24 * 3600,
        overshoot_ratio: Callable[[], float] | float = 0.0,
    ) -> None:
        self.max = maximum
        self._now = now or time.time
        self._window = window_seconds if callable(window_seconds) else (lambda: float(window_seconds))
        self._overshoot = overshoot_ratio if callable(overshoot_ratio) else (lambda: float(overshoot_ratio))
        self._calls: deque[list[float]] = deque()  # [org-clock second, calls charged in it], oldest first
        self._used = 0
        self._lock = threading.Lock()

    def _expire(self) -> None:
        horizon = self._now() - self._window()
        while self._calls and self._calls[0][0] <= horizon:
            self._used -= int(self._calls.popleft()[1])

    def _add(self, calls: int, at: float) -> None:
        if calls <= 0:
            return
        second = float(int(at))
        if self._calls and self._calls[-1][0] == second:
            self._calls[-1][1] += calls
        elif not self._calls or self._calls[-1][0] < second:
            self._calls.append([second, float(calls)])
        else:  # an older timestamp (add_usage with seconds_ago): keep the deque ordered
            items = sorted([*self._calls, [second, float(calls)]], key=lambda item: item[0])
            self._calls = deque(items)
        self._used += calls

    @property
    def used(self) -> int:
        with self._lock:
            self._expire()
            return self._used

    def refuse_at(self) -> int:
        """The usage at which calls are refused: the allocation plus the overshoot a real org tolerates."""
        return self.max + int(self.max * max(self._overshoot(), 0.0))

    def charge(self) -> None:
        with self._lock:
            self._expire()
            if self._used >= self.refuse_at():
                raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", TOTAL_REQUESTS_MESSAGE, include_fields=False)
            self._add(1, self._now())

    def exhausted(self) -> bool:
        with self._lock:
            self._expire()
            return self._used >= self.refuse_at()

    def header(self) -> str:
        with self._lock:
            self._expire()
            return f"api-usage={self._used}/{self.max}"

    def set(self, maximum: int | None = None, used: int | None = None, seconds_ago: float = 0.0) -> None:
        """Set the allocation and/or replace the usage by `used` calls made `seconds_ago` on the org's clock."""
        with self._lock:
            if maximum is not None:
                self.max = maximum
            if used is not None:
                self._calls.clear()
                self._used = 0
                self._add(used, self._now() - seconds_ago)
                self._expire()

    def add(self, calls: int, seconds_ago: float = 0.0) -> None:
        """Add usage made `seconds_ago` (e.g. other integrations' calls spread over the window)."""
        with self._lock:
            self._add(calls, self._now() - seconds_ago)
            self._expire()

    def remaining(self) -> int:
        """Max minus used: negative while the org runs past its allocation, as GET /limits reports it."""
        with self._lock:
            self._expire()
            return self.max - self._used
