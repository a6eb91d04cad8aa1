"""Pull requests: "pull this entity from Salesforce soon", asked by whoever learns that changes may be missing.

The change-event consumer asks on a CDC GAP_OVERFLOW (Salesforce dropped the events' details); an administrator
may ask too. The scheduled sync honours every pending request on its next tick, whether or not the entity has a
schedule, pulling from the earliest moment a request named (less the overlap window), and clears the request
only up to the moment its pull began: a request made during the pull stays for the next tick.

DynamoDB adapter: sync_core.adapters.dynamodb.pulls (pk PULL_REQUEST, sk the entity, in SYNC_STATE_TABLE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync_core.domain.entities import EntityName


@dataclass(frozen=True)
class PullRequest:
    """Pending requests of one entity, folded into one: changes may be missing from `since` on."""

    entity: EntityName
    reason: str  # the latest request's reason (e.g. "change events lost: GAP_OVERFLOW")
    since: datetime  # the earliest `at` among the requests: the pull starts there (less the overlap)
    latest: datetime  # the latest `at`: clear(up_to=...) removes the request only if no later one came
    requests: int = 1


class PullRequests(Protocol):
    def request(self, entity: EntityName, *, reason: str, at: datetime) -> None:
        """Ask for a pull of `entity` covering changes from `at` on (idempotent; requests fold together)."""
        ...

    def pending(self) -> list[PullRequest]:
        """Every entity's pending request, in dependency order."""
        ...

    def clear(self, entity: EntityName, *, up_to: datetime) -> bool:
        """Remove the entity's request if no request came after `up_to`; False if one did (it stays)."""
        ...
