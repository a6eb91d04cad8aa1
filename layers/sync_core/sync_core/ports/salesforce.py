"""Salesforce ports: the client the sync services call, and where the hub counts its API calls."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sync_core.domain.salesforce import ApiUsage, BulkOperation, HubBudgetDay, SObjectDescription, WriteOutcome

type SalesforceRecord = dict[str, Any]


@dataclass(frozen=True)
class QueryPage:
    """The first page of a query: its rows, how many rows the whole query has, and where the rest is."""

    total_size: int
    records: list[SalesforceRecord]
    next_records_url: str | None  # None when this page holds every row


class SalesforceApi(Protocol):
    """Reads and writes against one org, within the hub's API budget.

    Reads raise sync_core.errors.RetryableError / PermanentError (Salesforce's code and message kept) and
    BudgetExhaustedError when the budget is spent. Writes never raise for a record: each sent record gets a
    RecordResult, and records the budget did not allow come back in WriteOutcome.deferred.
    """

    def query(self, soql: str) -> Iterator[SalesforceRecord]:
        """Every row of the query, following nextRecordsUrl page by page (lazily)."""
        ...

    def query_all(self, soql: str) -> Iterator[SalesforceRecord]:
        """Like query, including deleted and merged rows (IsDeleted = true)."""
        ...

    def query_all_page(self, soql: str) -> QueryPage:
        """The first page of a queryAll (one API call): a caller that finds totalSize large may switch to a Bulk
        API 2.0 query instead of paging on with query_more."""
        ...

    def query_more(self, next_records_url: str) -> Iterator[SalesforceRecord]:
        """Resume a query from a nextRecordsUrl (BudgetExhaustedError carries it in details)."""
        ...

    def get(self, sobject: str, record_id: str, fields: Sequence[str] = ()) -> SalesforceRecord | None:
        """One record by id; None when it does not exist."""
        ...

    def describe(self, sobject: str) -> SObjectDescription: ...

    def create_many(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> WriteOutcome: ...

    def update_many(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> WriteOutcome:
        """Each record carries its Salesforce `Id`."""
        ...

    def upsert_many(self, sobject: str, records: Sequence[Mapping[str, Any]], external_id_field: str) -> WriteOutcome:
        """Create or update by external id: sending the same records twice never makes duplicates."""
        ...

    def delete_many(self, sobject: str, record_ids: Sequence[str]) -> WriteOutcome: ...

    def bulk_ingest(
        self,
        sobject: str,
        operation: BulkOperation,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None = None,
    ) -> WriteOutcome:
        """A Bulk API 2.0 ingest job (the *_many methods use it above Settings.bulk_threshold)."""
        ...

    def bulk_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, str]]:
        """A Bulk API 2.0 query job; rows as CSV strings (empty string = null)."""
        ...

    def limits(self) -> ApiUsage:
        """The org's daily API requests now (GET /limits)."""
        ...


class ApiBudgetStore(Protocol):
    """The hub's own Salesforce calls per UTC day, shared by every function and container."""

    def day(self, day: str) -> HubBudgetDay:
        """The hub's calls that day and the org's usage last seen by any container."""
        ...

    def reserve(self, day: str, calls: int, *, allowance: int, org: ApiUsage | None) -> bool:
        """Add `calls` atomically unless the day's count would pass `allowance`; False (nothing added) if so."""
        ...

    def add(self, day: str, calls: int, *, org: ApiUsage | None) -> None:
        """Adjust the count (negative returns an unused reservation) and remember the org's usage."""
        ...
