"""ETag and If-Match: a record's version is its ETag, and If-Match makes a write conditional on it."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sync_core.errors import ValidationFailedError

# A version is a short integer: more digits than this is no ETag the hub ever sent.
MAX_VERSION_DIGITS = 12
_ETAG_VERSION = re.compile(rf'^\s*(?:W/)?"?(\d{{1,{MAX_VERSION_DIGITS}}})"?\s*$')


def expected_version(headers: Mapping[str, str]) -> int | None:
    """The version an If-Match header names ("3", 3 or W/"3"); None without the header."""
    value = headers.get("if-match")
    if not value:
        return None
    match = _ETAG_VERSION.match(value)
    if match is None:
        raise ValidationFailedError(
            f'If-Match must be the record\'s ETag, a version of at most {MAX_VERSION_DIGITS} digits, e.g. "3"',
            field="If-Match",
        )
    return int(match.group(1))


def etag(version: int) -> str:
    return f'"{version}"'
