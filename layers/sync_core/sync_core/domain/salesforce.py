"""Salesforce rules without any I/O: error classes, API usage, request packing, the budget governor, write results.

The adapter (sync_core.adapters.salesforce) talks HTTP; everything it has to decide is decided here so it can
be tested as a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from sync_core.errors import BudgetExhaustedError, PermanentError, RetryableError

# ------------------------------------------------------------------ error classification

# Codes that a later attempt may get past; everything else in a 4xx answer is the record's or the request's fault.
RETRYABLE_CODES = frozenset(
    {
        "REQUEST_LIMIT_EXCEEDED",  # API allocation or concurrency limit
        "UNABLE_TO_LOCK_ROW",  # row lock contention
        "SERVER_UNAVAILABLE",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",  # an innocent row rolled back with a failing one
        "INVALID_SESSION_ID",  # still expired after the one re-authentication: the next attempt logs in anew
        "TIMEOUT",  # the adapter's code for a connect/read timeout
        "CONNECTION_ERROR",  # the adapter's code for a refused or reset connection
        "INVALID_TOKEN_RESPONSE",  # the token endpoint answered 200 with something that is not a token
        "RESULT_MISSING",  # Salesforce answered without a result for the record: whether it was written is unknown
        "BULK_UNPROCESSED",  # the job ended before reaching the row: it was never written
        "BULK_JOB_PENDING",  # the job outlived our polling: the row's outcome is unknown
        "BULK_JOB_ABORTED",  # someone aborted the job before it reached the row
        "BULK_RESULT_MISSING",  # no result row matched the record: its outcome is unknown
    }
)
# Named so the table test can prove each documented permanent code stays permanent.
PERMANENT_CODES = frozenset(
    {
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "REQUIRED_FIELD_MISSING",
        "INVALID_FIELD",
        "ENTITY_IS_DELETED",
        "DUPLICATE_VALUE",
        "DUPLICATES_DETECTED",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "MALFORMED_ID",
        "INVALID_CROSS_REFERENCE_KEY",
        "STRING_TOO_LONG",
        "NOT_FOUND",
        "MULTIPLE_RECORDS_FOUND",
        "DUPLICATE_EXTERNAL_ID",  # an upsert row's external id matches several records
        "MALFORMED_QUERY",
        "INVALID_TYPE",
        "INVALID_GRANT",
    }
)
# Salesforce sends REQUEST_LIMIT_EXCEEDED for both the daily allocation and concurrency; only the message tells.
DAILY_LIMIT_MESSAGE = "TotalRequests Limit exceeded"
RETRY_AFTER_SECONDS = {"UNABLE_TO_LOCK_ROW": 5.0, "REQUEST_LIMIT_EXCEEDED": 30.0, "SERVER_UNAVAILABLE": 30.0}
DAILY_LIMIT_RETRY_AFTER = timedelta(hours=1)


class SalesforceFailure(BaseModel):
    """One error as Salesforce reported it (code, message, fields kept) and whether a retry can help."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    fields: tuple[str, ...] = ()
    http_status: int | None = None
    matching_ids: tuple[str, ...] = Field(default=(), description="300: the ids an upsert's external id matched")

    @property
    def retryable(self) -> bool:
        if self.code in RETRYABLE_CODES:
            return True
        if self.code in PERMANENT_CODES:
            return False
        # Unknown codes: the server's fault (5xx) or plain throttling may pass; any other 4xx will not.
        return self.http_status is not None and (self.http_status >= 500 or self.http_status in (408, 429))

    @property
    def is_daily_limit(self) -> bool:
        """The org's daily API allocation is spent (wait for the rolling 24 h window, not seconds)."""
        return self.code == "REQUEST_LIMIT_EXCEEDED" and DAILY_LIMIT_MESSAGE.lower() in self.message.lower()

    @property
    def retry_after_seconds(self) -> float | None:
        if not self.retryable:
            return None
        if self.is_daily_limit:
            return DAILY_LIMIT_RETRY_AFTER.total_seconds()
        return RETRY_AFTER_SECONDS.get(self.code, 10.0)

    def to_error(self) -> RetryableError | PermanentError:
        """The hub's error for this failure (services and the error log speak sync_core.errors)."""
        text = f"Salesforce {self.code}: {self.message}"
        details = {"http_status": self.http_status, "fields": list(self.fields)}
        if self.is_daily_limit:
            return BudgetExhaustedError(text, code=self.code, retry_after_seconds=self.retry_after_seconds, **details)
        if self.retryable:
            return RetryableError(text, code=self.code, retry_after_seconds=self.retry_after_seconds, **details)
        extra = {"matching_ids": list(self.matching_ids)} if self.matching_ids else {}
        return PermanentError(text, code=self.code, fields=self.fields, http_status=self.http_status, **extra)


def failures_from_body(http_status: int, body: Any) -> list[SalesforceFailure]:
    """Salesforce's error answer (`[{"errorCode","message","fields"}]`, or anything else) as failures."""
    if http_status == 300:
        # Upsert matched several records; the body lists their URLs (not an error object): keep every id.
        urls = body if isinstance(body, list) else []
        ids = tuple(str(url).rstrip("/").rsplit("/", 1)[-1] for url in urls if isinstance(url, str) and url)
        message = f"The external id matches {len(ids)} records: {', '.join(ids)}" if ids else str(body)[:500]
        return [SalesforceFailure(code="MULTIPLE_RECORDS_FOUND", message=message, http_status=300, matching_ids=ids)]
    entries = body if isinstance(body, list) else [body]
    failures = []
    for entry in entries:
        if isinstance(entry, Mapping) and (entry.get("errorCode") or entry.get("statusCode")):
            failures.append(
                SalesforceFailure(
                    code=str(entry.get("errorCode") or entry.get("statusCode")),
                    message=str(entry.get("message") or ""),
                    fields=tuple(str(field) for field in entry.get("fields") or ()),
                    http_status=http_status,
                )
            )
        elif isinstance(entry, Mapping) and entry.get("error"):  # OAuth token endpoint shape
            failures.append(
                SalesforceFailure(
                    code=str(entry["error"]).upper(),
                    message=str(entry.get("error_description") or ""),
                    http_status=http_status,
                )
            )
    return failures or [SalesforceFailure(code=f"HTTP_{http_status}", message=str(body)[:500], http_status=http_status)]


def bulk_error_failure(sf_error: str) -> SalesforceFailure:
    """A Bulk API 2.0 `sf__Error` cell, `CODE:message:field1,field2 --` or just a message."""
    code, _, rest = sf_error.partition(":")
    if not code.isupper() or " " in code:
        return SalesforceFailure(code="BULK_RECORD_FAILED", message=sf_error)
    message, _, fields_text = rest.rpartition(":")
    if not message:  # no field list: everything after the code is the message
        message, fields_text = rest, ""
    fields = tuple(name.strip() for name in fields_text.replace("--", "").split(",") if name.strip())
    return SalesforceFailure(code=code, message=message.strip(), fields=fields)


# ------------------------------------------------------------------ API usage


class ApiUsage(BaseModel):
    """The org's daily API requests, from `Sforce-Limit-Info: api-usage=used/max` or GET /limits."""

    model_config = ConfigDict(frozen=True)

    used: int = Field(ge=0)
    max: int = Field(gt=0)
    seen_at: datetime | None = Field(default=None, description="When an answer reported it (None: not known)")


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """`api-usage=25/15000` (maybe with `; api-bursts=…` or `; per-app-api-usage=…`); None if absent or malformed."""
    if not header:
        return None
    for part in header.replace(",", ";").split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() != "api-usage":
            continue
        used, slash, maximum = value.strip().partition("/")
        if not slash or not used.isdigit() or not maximum.isdigit() or int(maximum) == 0:
            return None
        return ApiUsage(used=int(used), max=int(maximum))
    return None


# ------------------------------------------------------------------ packing writes

COLLECTION_SIZE = 200  # records per sObject Collections request
COLLECTIONS_PER_COMPOSITE = 5  # Collections subrequests one Composite request may carry
RECORDS_PER_CALL = COLLECTION_SIZE * COLLECTIONS_PER_COMPOSITE


def chunked[T](items: Sequence[T], size: int) -> list[list[T]]:
    if size <= 0:
        raise ValueError("size must be positive")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def pack_for_composite[T](items: Sequence[T]) -> list[list[list[T]]]:
    """Items as API calls, each call ≤5 Collections chunks of ≤200: a Composite request is one call of ≤1,000."""
    return chunked(chunked(items, COLLECTION_SIZE), COLLECTIONS_PER_COMPOSITE)


def calls_for_records(record_count: int) -> int:
    return math.ceil(record_count / RECORDS_PER_CALL)


def use_bulk(record_count: int, threshold: int) -> bool:
    """Above the threshold a Bulk API 2.0 job costs fewer calls than Composite requests (Salesforce: >2,000)."""
    return record_count > threshold


# ------------------------------------------------------------------ the budget governor


class DeferralReason(StrEnum):
    RUN_CAP = "run_cap"  # this run's cap (Settings.api_calls_per_run)
    HUB_SHARE = "hub_share"  # the hub's share of today's allocation (Settings.api_budget_share)
    ORG_ALLOCATION = "org_allocation"  # the org's whole daily allocation
    SALESFORCE_THROTTLED = "salesforce_throttled"  # REQUEST_LIMIT_EXCEEDED for concurrency
    SALESFORCE_UNAVAILABLE = "salesforce_unavailable"  # 5xx, timeouts, refused connections


RUN_CAP_PAUSE = timedelta(minutes=1)  # a later run starts with a fresh cap
ORG_ALLOCATION_PAUSE = timedelta(hours=1)  # the allocation is a rolling 24 h window: it frees up gradually
THROTTLE_PAUSE = timedelta(seconds=30)


def next_utc_midnight(now: datetime) -> datetime:
    day = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def budget_day(now: datetime) -> str:
    """The key the hub counts its calls under (UTC day)."""
    return now.astimezone(UTC).date().isoformat()


def org_usage_is_current(usage: ApiUsage | None, now: datetime) -> bool:
    """Whether a stored org usage may stand in for asking Salesforce: seen within the last ORG_ALLOCATION_PAUSE.

    An older figure may say "exhausted" about a rolling 24 h window that has freed up since; trusting it would keep
    every container waiting until the hub's day ends.
    """
    # Strictly younger: work deferred for ORG_ALLOCATION resumes exactly ORG_ALLOCATION_PAUSE after the figure was
    # seen, and must then ask Salesforce rather than be deferred again on the same figure.
    return usage is not None and usage.seen_at is not None and now - usage.seen_at < ORG_ALLOCATION_PAUSE


def resume_time(reason: DeferralReason, now: datetime) -> datetime:
    """When deferred work may be tried again."""
    match reason:
        case DeferralReason.RUN_CAP:
            return now + RUN_CAP_PAUSE
        case DeferralReason.HUB_SHARE:
            return next_utc_midnight(now)
        case DeferralReason.ORG_ALLOCATION:
            return now + ORG_ALLOCATION_PAUSE
        case DeferralReason.SALESFORCE_THROTTLED | DeferralReason.SALESFORCE_UNAVAILABLE:
            return now + THROTTLE_PAUSE


class HubBudgetDay(BaseModel):
    """The budget store's item for one UTC day."""

    model_config = ConfigDict(frozen=True)

    calls: int = Field(default=0, ge=0)
    org: ApiUsage | None = Field(default=None, description="The org's usage last seen by any container")


class BudgetState(BaseModel):
    """What the governor knows when asked: the org's usage, the hub's today, this run's, and the limits."""

    model_config = ConfigDict(frozen=True)

    org: ApiUsage
    hub_used_today: int = Field(ge=0)
    run_used: int = Field(ge=0)
    share: float = Field(gt=0, le=1)
    run_cap: int = Field(gt=0)

    @property
    def hub_allowance(self) -> int:
        """The most calls the hub may make today: its share of the org's daily allocation."""
        return math.floor(self.org.max * self.share)

    def headroom(self) -> dict[DeferralReason, int]:
        return {
            DeferralReason.RUN_CAP: self.run_cap - self.run_used,
            DeferralReason.HUB_SHARE: self.hub_allowance - self.hub_used_today,
            DeferralReason.ORG_ALLOCATION: self.org.max - self.org.used,
        }


class BudgetDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    requested: int
    granted: int
    reason: DeferralReason | None = None
    resume_after: datetime | None = None

    @property
    def fully_granted(self) -> bool:
        return self.granted >= self.requested


def decide_budget(state: BudgetState, requested_calls: int, now: datetime) -> BudgetDecision:
    """How many of the requested calls may be made now; if not all, why and when to resume the rest."""
    if requested_calls <= 0:
        return BudgetDecision(requested=0, granted=0)
    headroom = state.headroom()
    granted = max(0, min(requested_calls, *headroom.values()))
    if granted == requested_calls:
        return BudgetDecision(requested=requested_calls, granted=granted)
    # The tightest limit binds; if several bind equally, wait for the one that frees up last.
    tightest = min(headroom.values())
    binding = [reason for reason, room in headroom.items() if room == tightest]
    reason = max(binding, key=lambda candidate: resume_time(candidate, now))
    return BudgetDecision(
        requested=requested_calls, granted=granted, reason=reason, resume_after=resume_time(reason, now)
    )


def deferral_reason_for(failure: SalesforceFailure) -> DeferralReason:
    """Why a write waits when a whole call failed in a way a later attempt may pass."""
    if failure.is_daily_limit:
        return DeferralReason.ORG_ALLOCATION
    if failure.code == "REQUEST_LIMIT_EXCEEDED":
        return DeferralReason.SALESFORCE_THROTTLED
    return DeferralReason.SALESFORCE_UNAVAILABLE


# ------------------------------------------------------------------ write results


class RecordError(BaseModel):
    """One error of one record, as Salesforce reports it (`statusCode` in results, `errorCode` in error bodies)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    status_code: str = Field(validation_alias=AliasChoices("statusCode", "errorCode", "status_code"))
    message: str = ""
    fields: list[str] = Field(default_factory=list)

    def failure(self, http_status: int | None = None) -> SalesforceFailure:
        return SalesforceFailure(
            code=self.status_code, message=self.message, fields=tuple(self.fields), http_status=http_status
        )


class RecordResult(BaseModel):
    """The outcome of one record sent to Salesforce; `index` is its position in the caller's input."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    id: str | None = None
    success: bool
    created: bool | None = None
    errors: list[RecordError] = Field(default_factory=list)

    @classmethod
    def from_salesforce(cls, index: int, payload: Mapping[str, Any]) -> RecordResult:
        return cls.model_validate({**payload, "index": index})

    @classmethod
    def failed(cls, index: int, failure: SalesforceFailure, *, record_id: str | None = None) -> RecordResult:
        error = RecordError(status_code=failure.code, message=failure.message, fields=list(failure.fields))
        return cls(index=index, id=record_id, success=False, errors=[error])

    @property
    def failure(self) -> SalesforceFailure | None:
        if self.success:
            return None
        if not self.errors:
            return SalesforceFailure(code="UNKNOWN_ERROR", message="Salesforce reported a failure without errors")
        # One retryable error (a lock) makes the record worth retrying even if Salesforce listed others with it.
        for error in self.errors:
            if error.failure().retryable:
                return error.failure()
        return self.errors[0].failure()

    @property
    def retryable(self) -> bool:
        failure = self.failure
        return failure is not None and failure.retryable


class DeferredWork(BaseModel):
    """Records not sent because a budget ran out: not failed, to be sent again after `resume_after`."""

    model_config = ConfigDict(frozen=True)

    indexes: list[int]
    items: list[Any]
    reason: DeferralReason
    resume_after: datetime


class WriteOutcome(BaseModel):
    """A write of many records: a result per record sent, in input order, and what was deferred."""

    model_config = ConfigDict(frozen=True)

    results: list[RecordResult] = Field(default_factory=list)
    deferred: DeferredWork | None = None

    @property
    def succeeded(self) -> list[RecordResult]:
        return [result for result in self.results if result.success]

    @property
    def retryable_failures(self) -> list[RecordResult]:
        return [result for result in self.results if not result.success and result.retryable]

    @property
    def permanent_failures(self) -> list[RecordResult]:
        return [result for result in self.results if not result.success and not result.retryable]


def collection_results(
    indexes: Sequence[int], http_status: int, body: Any
) -> tuple[list[RecordResult], SalesforceFailure | None]:
    """One sObject Collections answer (alone or inside a Composite) as one result per record, in order.

    When the whole request failed in a way a later attempt may pass (5xx, REQUEST_LIMIT_EXCEEDED, a lock, a timeout)
    there are no results but that failure: its records are deferred, not failed. A permanent request-level failure
    (e.g. INVALID_FIELD for the whole request) fails every record with it.
    """
    if http_status < 300 and isinstance(body, list):
        missing = SalesforceFailure(code="RESULT_MISSING", message="Salesforce returned no result for this record")
        results = []
        for position, index in enumerate(indexes):
            payload: Any = body[position] if position < len(body) else None
            try:
                results.append(RecordResult.from_salesforce(index, payload))
            except (TypeError, ValueError):  # absent or not a result object
                results.append(RecordResult.failed(index, missing))
        return results, None
    failure = failures_from_body(http_status, body)[0]
    if failure.retryable:
        return [], failure
    return [RecordResult.failed(index, failure) for index in indexes], None


# ------------------------------------------------------------------ reads


class FieldDescription(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    name: str
    type: str
    label: str = ""
    createable: bool = False
    updateable: bool = False
    nillable: bool = True
    external_id: bool = Field(default=False, validation_alias=AliasChoices("externalId", "external_id"))


class SObjectDescription(BaseModel):
    """The parts of `GET /sobjects/{name}/describe` that field checks need."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    fields: list[FieldDescription]

    def field(self, name: str) -> FieldDescription | None:
        wanted = name.lower()  # Salesforce API names are case-insensitive
        return next((field for field in self.fields if field.name.lower() == wanted), None)

    def missing_fields(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if self.field(name) is None]

    def not_writable(self, names: Sequence[str], *, creating: bool) -> list[str]:
        """Names that exist but may not be written on create (or update)."""
        found = [(name, self.field(name)) for name in names]
        return [
            name
            for name, field in found
            if field is not None and not (field.createable if creating else field.updateable)
        ]


class BulkOperation(StrEnum):
    INSERT = "insert"
    UPDATE = "update"
    UPSERT = "upsert"
    DELETE = "delete"
