"""Bulk API 2.0 (placeholder until implemented)."""

from __future__ import annotations

from .errors import not_found
from .org import Call, Org, Reply


def handle(org: Org, call: Call, kind: str, parts: list[str]) -> Reply:
    raise not_found()
