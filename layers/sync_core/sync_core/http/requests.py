"""Reading who calls and what version they expect from an API Gateway HTTP API (payload 2.0) event."""

from __future__ import annotations

import re
from typing import Any

from sync_core.errors import ValidationFailedError

ANONYMOUS = "anonymous"
_ETAG_VERSION = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def caller_identity(event: dict[str, Any]) -> str:
    """The authorised caller: a JWT subject, or an IAM principal ARN (the authorisers in template.yaml).

    The local gateway puts its documented X-Hub-User header into the JWT claims, as a JWT authoriser would.
    """
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    if claims.get("sub"):
        return str(claims["sub"])
    iam = authorizer.get("iam") or {}
    if iam.get("userArn"):
        return str(iam["userArn"])
    return ANONYMOUS


def expected_version(headers: dict[str, str]) -> int | None:
    """The version an If-Match header names ("3", 3 or W/"3"); None without the header."""
    value = headers.get("if-match")
    if not value:
        return None
    match = _ETAG_VERSION.match(value)
    if match is None:
        raise ValidationFailedError('If-Match must be the record\'s ETag, e.g. "3"', field="If-Match")
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'
