"""A write through the API: once per Idempotency-Key, and run again in place when it lost a race.

A write reads, decides and writes conditionally in one transaction; when DynamoDB cancels that transaction
because another write touched the same items at the same moment (ContendedError), nothing was written, so
running the whole write again is safe and usually succeeds. Only when it keeps losing does the client get a
503 with Retry-After. Powertools' idempotency deletes the key of a write that raised, so a retried key runs
again instead of replaying a failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from sync_core.adapters.idempotency import run_idempotently
from sync_core.errors import ContendedError
from sync_core.http.identity import Caller
from sync_core.http.resolver import HubResolver

CONTENDED_ATTEMPTS = 3
_BACKOFF_SECONDS = 0.05


def retry_contended[T](operation: Callable[[], T], *, attempts: int = CONTENDED_ATTEMPTS) -> T:
    """Run `operation`, again (after a short jittered pause) each time it raises ContendedError."""
    attempt = 1
    while True:
        try:
            return operation()
        except ContendedError:
            if attempt >= attempts:
                raise
            time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # jitter, so racers do not meet again
            attempt += 1


def run_write(
    app: HubResolver,
    write: Callable[[Caller], dict[str, Any]],
    *,
    scope: str,
    idempotency_key: str | None,
    payload: Any,
) -> dict[str, Any]:
    """Run `write` for the request's caller: once per (scope, caller, Idempotency-Key), its JSON result replayed
    to a retry; again in place when it lost a race. `payload` is what a reused key must match."""
    caller = app.caller
    return run_idempotently(
        lambda: retry_contended(lambda: write(caller)),
        idempotency_key=idempotency_key,
        scope=scope,
        caller=caller.id,
        request_payload=payload,
        context=app.lambda_context,
    )
