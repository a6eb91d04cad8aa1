"""DynamoDB failures that a retry may fix, raised as the hub's RetryableError (503 with Retry-After at the edge).

Registered once on the DynamoDB client (sync_core.adapters.aws), so every adapter, and Powertools' idempotency
layer on the same client, sees throttling, transaction conflicts, DynamoDB's own 5xx and network failures as
RetryableError (ContendedError for a conflict, which the API retries in place) instead of a botocore error
that would end as a 500. They are raised only after botocore's own retries (standard mode) gave up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ConnectionClosedError, ConnectionError, HTTPClientError, ReadTimeoutError

from sync_core.errors import ContendedError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
SERVER_ERROR_CODES = frozenset({"InternalServerError", "ServiceUnavailable", "InternalFailure"})
# Cancellation reasons of a transaction that a retry may get past; ConditionalCheckFailed is an answer.
RETRYABLE_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def classify_failure(error: dict[str, Any], cancellation_reasons: list[dict[str, Any]]) -> RetryableError | None:
    """The RetryableError a DynamoDB error response stands for, or None when a retry would not help."""
    code = str(error.get("Code", ""))
    if code in THROTTLING_CODES:
        return RetryableError(f"DynamoDB is throttling ({code}); retry shortly", code=code, retry_after_seconds=1)
    if code in SERVER_ERROR_CODES:
        return RetryableError(f"DynamoDB failed ({code}); retry shortly", code=code, retry_after_seconds=1)
    if code == "TransactionConflictException":
        return ContendedError("another write changed the same items; retry", code=code, retry_after_seconds=1)
    if code == "TransactionCanceledException":
        reasons = {str(reason.get("Code")) for reason in cancellation_reasons if reason.get("Code") != "None"}
        if reasons and reasons <= RETRYABLE_CANCELLATIONS:
            if reasons == {"TransactionConflict"}:
                return ContendedError(
                    "another write changed the same items at the same moment; retry",
                    code="TransactionConflict",
                    retry_after_seconds=1,
                )
            return RetryableError(
                f"DynamoDB cancelled the transaction ({', '.join(sorted(reasons))}); retry shortly",
                code="TransactionThrottled",
                retry_after_seconds=1,
            )
    return None


def _after_call(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
    if getattr(http_response, "status_code", 200) < 300:
        return
    failure = classify_failure(parsed.get("Error") or {}, parsed.get("CancellationReasons") or [])
    if failure is not None:
        raise failure


def _after_call_error(exception: Exception, **_: Any) -> None:
    # Timeouts and broken connections, once botocore's retries are spent.
    if isinstance(exception, ConnectionError | ReadTimeoutError | ConnectionClosedError | HTTPClientError):
        raise RetryableError(
            f"DynamoDB is unreachable ({type(exception).__name__}); retry shortly",
            code=type(exception).__name__,
            retry_after_seconds=1,
        ) from exception


def classify_retryable_errors(client: DynamoDBClient) -> DynamoDBClient:
    """Make `client` raise RetryableError for what a retry may fix (see the module's docstring)."""
    client.meta.events.register("after-call.dynamodb", _after_call)
    client.meta.events.register("after-call-error.dynamodb", _after_call_error)
    return client
