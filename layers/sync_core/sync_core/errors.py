"""The hub's error tree: services raise these; API functions map them to HTTP once (sync_core.http)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SyncHubError(Exception):
    """Base of every error the hub raises on purpose."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFoundError(SyncHubError):
    """An entity, record or case that does not exist."""


class ValidationFailedError(SyncHubError):
    """Input that breaks a business rule; `field` (or `errors`, one per field) names what was wrong."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        errors: Sequence[dict[str, str]] = (),
        **details: Any,
    ) -> None:
        errors = list(errors) or ([{"field": field, "reason": message}] if field else [])
        super().__init__(message, field=field, errors=errors, **details)
        self.field = field
        self.errors = errors


class OperationNotAllowedError(SyncHubError):
    """A request that this resource never accepts (e.g. writing a case outside the case workflow)."""


class ForbiddenError(SyncHubError):
    """The caller is authenticated but lacks the role this change needs (HTTP 403)."""


class StaleVersionError(SyncHubError):
    """A write based on a version that is no longer current (optimistic locking)."""

    def __init__(self, message: str, *, expected: int | None = None, current: int | None = None) -> None:
        super().__init__(message, expected=expected, current=current)
        self.expected = expected
        self.current = current


class AlreadyExistsError(SyncHubError):
    """A create for a key that is already taken."""


class InvalidTransitionError(SyncHubError):
    """A workflow action that the current status does not allow."""

    def __init__(self, message: str, *, status: str, allowed_actions: Sequence[str]) -> None:
        super().__init__(message, status=status, allowed_actions=list(allowed_actions))
        self.status = status
        self.allowed_actions = list(allowed_actions)


class InvalidReasonError(SyncHubError):
    """A reason that the target status does not allow."""

    def __init__(self, message: str, *, status: str, reason: str | None, allowed_reasons: Sequence[str]) -> None:
        super().__init__(message, status=status, reason=reason, allowed_reasons=list(allowed_reasons))
        self.status = status
        self.reason = reason
        self.allowed_reasons = list(allowed_reasons)


class RetryableError(SyncHubError):
    """A failure that may succeed later (throttling, lock contention, 5xx, timeouts)."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after_seconds: float | None = None, **details: Any
    ) -> None:
        super().__init__(message, code=code, retry_after_seconds=retry_after_seconds, **details)
        self.code = code
        self.retry_after_seconds = retry_after_seconds


class ContendedError(RetryableError):
    """Another write changed the same items at the same moment (a DynamoDB transaction conflict, a sequence
    number taken): nothing was written, so running the whole operation again is safe."""


class StateMovedError(ContendedError):
    """A record's sync state changed between reading it and writing the next one (another sync step or a
    user's write): nothing was written; read it again and recompute."""


class LinkTakenError(ContendedError):
    """The Salesforce id is already linked to another hub record (a concurrent delivery of the same new
    Salesforce record won the claim): nothing was written; read the link again and apply as an update."""

    def __init__(self, message: str, *, kind: str, salesforce_id: str) -> None:
        super().__init__(message, code="LinkTaken", kind=kind, salesforce_id=salesforce_id)
        self.kind = kind
        self.salesforce_id = salesforce_id


class PermanentError(SyncHubError):
    """A failure that no retry will fix (validation, missing field, deleted entity); goes to the error log."""

    def __init__(self, message: str, *, code: str | None = None, fields: Sequence[str] = (), **details: Any) -> None:
        super().__init__(message, code=code, fields=list(fields), **details)
        self.code = code
        self.fields = list(fields)


class BudgetExhaustedError(RetryableError):
    """The hub's share of the Salesforce API allocation is spent: defer the work, never drop it."""
