"""The vocabulary of sync policies: which way data flows, what wins a conflict, what a delete does."""

from __future__ import annotations

from enum import StrEnum


class SyncDirection(StrEnum):
    TO_SALESFORCE = "to Salesforce"
    FROM_SALESFORCE = "from Salesforce"
    BOTH = "both"

    @property
    def exports(self) -> bool:
        return self is not SyncDirection.FROM_SALESFORCE

    @property
    def imports(self) -> bool:
        return self is not SyncDirection.TO_SALESFORCE


class SyncMode(StrEnum):
    REAL_TIME = "real time"
    BATCH = "batch"
    BOTH = "both"


class ConflictPolicy(StrEnum):
    """What wins when both sides changed the same record since the last sync."""

    SALESFORCE_WINS = "Salesforce wins"
    HUB_WINS = "hub wins"
    NEWEST_WINS = "newest wins"
    MANUAL = "manual"  # the record goes to Error with both versions kept, for a person to decide


class DeletePolicy(StrEnum):
    """What a record deleted in Salesforce does to its hub record (an undelete reverses it)."""

    DELETE_IN_HUB = "delete in hub"
    UNLINK = "unlink only"  # the hub keeps the record; the link to the deleted Salesforce id is dropped
    IGNORE = "ignore"


class HubDeletePolicy(StrEnum):
    """What a record deleted in the hub (by a user, an integration or the system) does to its Salesforce record.
    A delete the sync applied from Salesforce is never sent back."""

    DELETE_IN_SALESFORCE = "delete in Salesforce"
    UNLINK = "unlink only"  # Salesforce keeps its record; the link is dropped


class UnmappedValuePolicy(StrEnum):
    """A picklist value the value map does not name."""

    REFUSE = "refuse"  # a permanent mapping error naming entity, record, field and value
    DEFAULT = "default"  # the value map's default for that direction
    PASS_THROUGH = "pass through"  # sent as it is (an unrestricted picklist accepts it)
