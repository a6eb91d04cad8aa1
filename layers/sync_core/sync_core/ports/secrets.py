"""Secrets the hub holds outside its code (Secrets Manager in AWS)."""

from __future__ import annotations

from typing import Protocol


class SecretValue(Protocol):
    """One secret's current value, e.g. the webhook's path token."""

    def value(self) -> str:
        """The secret; raises RetryableError when the store cannot be read now."""
        ...
