"""Salesforce REST error bodies: `[{"message", "errorCode", "fields"}]` and the exception that carries one."""

from __future__ import annotations

from typing import Any

NOT_FOUND_MESSAGE = "The requested resource does not exist"
SESSION_MESSAGE = "Session expired or invalid"
TOTAL_REQUESTS_MESSAGE = "TotalRequests Limit exceeded."
ROLLED_BACK_MESSAGE = "Record rolled back because not all records were valid and the request was using AllOrNone header"
PROCESSING_HALTED_MESSAGE = "The transaction was rolled back since another operation in the same transaction failed."


class SalesforceError(Exception):
    """One Salesforce error: HTTP status for single-resource calls, statusCode/errorCode, message, fields."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[str] | None = None,
        *,
        include_fields: bool = True,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields or [])
        self.include_fields = include_fields

    def body(self) -> list[dict[str, Any]]:
        """The REST resource error body (errorCode)."""
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.include_fields:
            item["fields"] = self.fields
        return [item]

    def row_error(self) -> dict[str, Any]:
        """The per-record error inside Collections / SaveResult answers (statusCode)."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", NOT_FOUND_MESSAGE, include_fields=False)


def invalid_session() -> SalesforceError:
    return SalesforceError(401, "INVALID_SESSION_ID", SESSION_MESSAGE, include_fields=False)


def limit_exceeded() -> SalesforceError:
    return SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", TOTAL_REQUESTS_MESSAGE, include_fields=False)


def json_parser_error(detail: str) -> SalesforceError:
    return SalesforceError(400, "JSON_PARSER_ERROR", detail, include_fields=False)


def method_not_allowed(method: str, allowed: list[str]) -> SalesforceError:
    return SalesforceError(
        405,
        "METHOD_NOT_ALLOWED",
        f"HTTP Method '{method}' not allowed. Allowed are {','.join(allowed)}",
        include_fields=False,
    )
