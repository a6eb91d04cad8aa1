"""The parameters every API shares, typed once so validation and the OpenAPI document agree everywhere."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header, Query

MAX_PAGE_SIZE = 100
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# A cursor carries a page's last key (up to a few KB with a long index key); anything longer is not ours.
MAX_CURSOR_LENGTH = 8192

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")]
Cursor = Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
        description="Makes a retried write safe: the same key (per caller) answers with the first call's result",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="if-match",
        description='The ETag read before, e.g. "3": the write is refused with 412 if the resource moved on',
    ),
]
