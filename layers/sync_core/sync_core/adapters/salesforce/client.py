"""SalesforceApi on simple-salesforce and requests: reads, Collections/Composite writes, Bulk API 2.0, the budget.

One SalesforceClient is one run: its per-run cap counts from construction. Tokens are shared through a TokenSource.
Every HTTP answer passes a response hook that counts the call and reads `Sforce-Limit-Info` (simple-salesforce
reads it only on success, and never for Bulk 2.0).
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal
from urllib.parse import quote

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from simple_salesforce.util import exception_handler

from sync_core.adapters.salesforce.auth import AccessToken, TokenSource
from sync_core.domain.salesforce import (
    ApiUsage,
    BudgetDecision,
    BudgetState,
    BulkOperation,
    DeferralReason,
    DeferredWork,
    RecordResult,
    SalesforceFailure,
    SObjectDescription,
    WriteOutcome,
    budget_day,
    bulk_error_failure,
    collection_results,
    decide_budget,
    deferral_reason_for,
    failures_from_body,
    org_usage_is_current,
    pack_for_composite,
    parse_limit_info,
    resume_time,
    use_bulk,
)
from sync_core.errors import BudgetExhaustedError, PermanentError, RetryableError
from sync_core.observability import logger
from sync_core.ports.salesforce import ApiBudgetStore, QueryPage, SalesforceApi, SalesforceRecord
from sync_core.ports.stores import Clock

LIMIT_INFO_HEADER = "Sforce-Limit-Info"
CALL_OPTIONS_HEADER = "Sforce-Call-Options"
BULK_FINAL_STATES = frozenset({"JobComplete", "Failed", "Aborted"})
BULK_NULL = "#N/A"  # how a Bulk API 2.0 CSV sets a field to null


@dataclass(frozen=True)
class ClientOptions:
    """What the client takes from Settings (see factory.build_salesforce_client)."""

    hub_client_id: str
    api_budget_share: float
    api_calls_per_run: int
    bulk_threshold: int
    ca_bundle: str | None = None
    timeout: tuple[float, float] = (5.0, 60.0)  # (connect, read) seconds
    bulk_poll_interval: float = 0.5  # the first wait after closing a job; each later one is 1.5 times longer
    bulk_poll_max_interval: float = 30.0
    bulk_max_polls: int = 30  # about 11 minutes of waiting in all
    bulk_results_page_size: int = 50_000


class _CallFailed(Exception):
    """One HTTP call failed; reads turn it into a hub error, writes into per-record results or deferral."""

    def __init__(self, failure: SalesforceFailure) -> None:
        super().__init__(f"{failure.code}: {failure.message}")
        self.failure = failure


class _TimeoutSession(requests.Session):
    """A session that never waits forever (simple-salesforce passes no timeout) and keeps its CA bundle."""

    def __init__(self, timeout: tuple[float, float], ca_bundle: str | None) -> None:
        super().__init__()
        self._timeout = timeout
        self._ca_bundle = ca_bundle

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        if self._ca_bundle:
            # Per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify.
            kwargs.setdefault("verify", self._ca_bundle)
        return super().request(method, url, *args, **kwargs)


def http_session(
    options: ClientOptions, *, on_response: Callable[[requests.Response], None] | None = None
) -> requests.Session:
    """A requests session with the CA bundle, timeouts, the call-options header and an optional response hook."""
    session = _TimeoutSession(options.timeout, options.ca_bundle)
    # On the session rather than per call: simple-salesforce rebuilds its own headers and requests merges these in.
    session.headers[CALL_OPTIONS_HEADER] = f"client={options.hub_client_id}"
    if on_response is not None:
        session.hooks["response"].append(lambda response, *_args, **_kwargs: on_response(response))
    return session


class SalesforceClient(SalesforceApi):
    """The adapter behind sync_core.ports.salesforce.SalesforceApi (subclassed so mypy checks every signature)."""

    def __init__(
        self, *, tokens: TokenSource, budget_store: ApiBudgetStore, clock: Clock, options: ClientOptions
    ) -> None:
        self._tokens = tokens
        self._budget_store = budget_store
        self._clock = clock
        self._options = options
        self._api_version = tokens.credentials().api_version
        self._http = http_session(options, on_response=self._observe)
        self._calls_this_run = 0
        self._org_usage: ApiUsage | None = None
        self._token: AccessToken | None = None
        self._sf: Salesforce | None = None

    # -------------------------------------------------------------- what the budget sees

    @property
    def calls_this_run(self) -> int:
        return self._calls_this_run

    @property
    def org_usage(self) -> ApiUsage | None:
        """The org's usage from the latest answer's Sforce-Limit-Info."""
        return self._org_usage

    def _observe(self, response: requests.Response) -> None:
        self._calls_this_run += 1
        usage = parse_limit_info(response.headers.get(LIMIT_INFO_HEADER))
        if usage is not None:
            self._org_usage = self._stamped(usage)

    def _stamped(self, usage: ApiUsage) -> ApiUsage:
        return usage.model_copy(update={"seen_at": self._clock.now()})

    # -------------------------------------------------------------- reads

    def query(self, soql: str) -> Iterator[SalesforceRecord]:
        return self._paged(lambda sf: sf.query(soql))

    def query_all(self, soql: str) -> Iterator[SalesforceRecord]:
        return self._paged(lambda sf: sf.query(soql, include_deleted=True))

    def query_all_page(self, soql: str) -> QueryPage:
        page = self._read(lambda sf: sf.query(soql, include_deleted=True))
        records = list(page["records"])
        done = page.get("done", True) or not page.get("nextRecordsUrl")
        return QueryPage(
            total_size=int(page.get("totalSize", len(records))),
            records=records,
            next_records_url=None if done else str(page["nextRecordsUrl"]),
        )

    def query_more(self, next_records_url: str) -> Iterator[SalesforceRecord]:
        return self._paged(lambda sf: sf.query_more(next_records_url, identifier_is_url=True), next_records_url)

    def _paged(
        self, first_page: Callable[[Salesforce], Any], resume_url: str | None = None
    ) -> Iterator[SalesforceRecord]:
        page = self._read(first_page, resume_url=resume_url)
        while True:
            yield from page["records"]
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            next_url: str = page["nextRecordsUrl"]
            page = self._read(partial(_next_page, next_url=next_url), resume_url=next_url)

    def get(self, sobject: str, record_id: str, fields: Sequence[str] = ()) -> SalesforceRecord | None:
        params = {"fields": ",".join(fields)} if fields else None
        try:
            record: SalesforceRecord = self._read(
                lambda sf: sf.restful(f"sobjects/{sobject}/{quote(record_id, safe='')}", params=params),
                translate=False,
            )
        except _CallFailed as failed:
            if failed.failure.http_status == 404:
                return None
            raise failed.failure.to_error() from None
        return record

    def describe(self, sobject: str) -> SObjectDescription:
        return SObjectDescription.model_validate(self._read(lambda sf: sf.restful(f"sobjects/{sobject}/describe")))

    def limits(self) -> ApiUsage:
        usage = self._stamped(_usage_from_limits(self._read(lambda sf: sf.limits())))
        self._org_usage = usage
        return usage

    def _read(
        self, action: Callable[[Salesforce], Any], *, resume_url: str | None = None, translate: bool = True
    ) -> Any:
        """One budgeted call: BudgetExhaustedError when the budget says no, hub errors for Salesforce failures."""
        try:
            decision = self._grant(1)
        except _CallFailed as failed:  # GET /limits failed: never mistaken for the read's own answer (get's 404)
            raise failed.failure.to_error() from None
        if not decision.granted:
            raise self._exhausted(decision, next_records_url=resume_url)
        with self._spending(decision.granted):
            try:
                return self._call(action)
            except _CallFailed as failed:
                if not translate:
                    raise
                raise failed.failure.to_error() from None

    # -------------------------------------------------------------- writes (Collections, packed into Composite)

    def create_many(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> WriteOutcome:
        if use_bulk(len(records), self._options.bulk_threshold):
            return self.bulk_ingest(sobject, BulkOperation.INSERT, records)
        return self._write(_typed(sobject, records), method="POST", path="composite/sobjects")

    def update_many(self, sobject: str, records: Sequence[Mapping[str, Any]]) -> WriteOutcome:
        if use_bulk(len(records), self._options.bulk_threshold):
            return self.bulk_ingest(sobject, BulkOperation.UPDATE, records)
        return self._write(_typed(sobject, records), method="PATCH", path="composite/sobjects")

    def upsert_many(self, sobject: str, records: Sequence[Mapping[str, Any]], external_id_field: str) -> WriteOutcome:
        def send(unique: Sequence[Mapping[str, Any]]) -> WriteOutcome:
            if use_bulk(len(unique), self._options.bulk_threshold):
                return self._bulk_ingest(sobject, BulkOperation.UPSERT, unique, external_id_field)
            path = f"composite/sobjects/{sobject}/{external_id_field}"
            return self._write(_typed(sobject, unique), method="PATCH", path=path)

        return once_per_external_id(records, external_id_field, send)

    def delete_many(self, sobject: str, record_ids: Sequence[str]) -> WriteOutcome:
        if use_bulk(len(record_ids), self._options.bulk_threshold):
            outcome = self.bulk_ingest(sobject, BulkOperation.DELETE, [{"Id": record_id} for record_id in record_ids])
            if outcome.deferred is None:
                return outcome
            # Deferred items are what the caller passed (ids), whichever path would have sent them.
            ids = [record_ids[index] for index in outcome.deferred.indexes]
            return outcome.model_copy(update={"deferred": outcome.deferred.model_copy(update={"items": ids})})
        return self._write(list(record_ids), method="DELETE", path="composite/sobjects")

    def _write(self, items: list[Any], *, method: str, path: str) -> WriteOutcome:
        if not items:
            return WriteOutcome()  # nothing to send: no budget look-up, no GET /limits
        calls = pack_for_composite(list(enumerate(items)))
        try:
            decision = self._grant(len(calls))
        except _CallFailed as failed:
            return self._unsent(items, failed.failure)
        results: list[RecordResult] = []
        waiting: list[tuple[int, Any]] = []  # deferred records (index, item), sent again later, never failed
        resend: list[tuple[int, Any]] = []  # innocent rows of a request refused for another row's unknown field
        reason, resume = decision.reason, decision.resume_after
        with self._spending(decision.granted):
            for number, chunks in enumerate(calls[: decision.granted]):
                try:
                    answers = self._write_call(chunks, method=method, path=path)
                except _CallFailed as failed:
                    if failed.failure.retryable:
                        # Throttled, limit reached, server down or timed out: this call and the rest wait, unfailed.
                        reason, resume = self._deferral(failed.failure)
                        waiting += _records_of(calls[number : decision.granted])
                        break
                    # A request-level rejection fails the call's records, except the innocent rows of a request
                    # refused for one row's unknown field: those are sent again without it.
                    for chunk in chunks:
                        refused, innocent = _split_on_unknown_field(failed.failure, chunk)
                        results.extend(refused)
                        resend.extend(innocent)
                    continue
                stop = False
                for chunk, (http_status, body) in zip(chunks, answers, strict=True):
                    if http_status >= 400:
                        refused, innocent = _split_on_unknown_field(failures_from_body(http_status, body)[0], chunk)
                        if innocent:
                            results.extend(refused)
                            resend.extend(innocent)
                            continue
                    chunk_results, failure = collection_results([index for index, _ in chunk], http_status, body)
                    results.extend(chunk_results)
                    if failure is not None:
                        # One Collections subrequest failed as a whole (5xx, REQUEST_LIMIT_EXCEEDED...): its
                        # records wait like a failed call's, and so do the calls after this one.
                        if not stop:
                            reason, resume = self._deferral(failure)
                        waiting.extend(chunk)
                        stop = True
                if stop:
                    waiting += _records_of(calls[number + 1 : decision.granted])
                    break
        waiting += _records_of(calls[decision.granted :])
        deferred = None
        if waiting and reason is not None and resume is not None:
            deferred = DeferredWork(
                indexes=[index for index, _ in waiting],
                items=[item for _, item in waiting],
                reason=reason,
                resume_after=resume,
            )
        outcome = WriteOutcome(results=sorted(results, key=lambda result: result.index), deferred=deferred)
        if resend:  # each round drops at least one row (the ones naming the field), so this ends
            again = self._write([item for _, item in resend], method=method, path=path)
            outcome = _merged(outcome, again, [index for index, _ in resend])
        return outcome

    def _unsent(self, items: list[Any], failure: SalesforceFailure) -> WriteOutcome:
        """None of the items was sent because of `failure`: they wait if a later try may pass, else they fail."""
        if not failure.retryable:
            return WriteOutcome(results=[RecordResult.failed(index, failure) for index in range(len(items))])
        return _all_deferred(items, *self._deferral(failure))

    def _deferral(self, failure: SalesforceFailure) -> tuple[DeferralReason, datetime]:
        reason = deferral_reason_for(failure)
        logger.warning("Salesforce write deferred", code=failure.code, reason=reason)
        return reason, resume_time(reason, self._clock.now())

    def _write_call(self, chunks: list[list[tuple[int, Any]]], *, method: str, path: str) -> list[tuple[int, Any]]:
        """One API call, a plain Collections request for one chunk or a Composite request for several: the
        (HTTP status, body) of each chunk's Collections answer, in chunk order."""
        if len(chunks) == 1:
            chunk = chunks[0]
            answer = self._call(lambda sf: sf.restful(path, **_collection_request(method, [item for _, item in chunk])))
            return [(200, answer)]
        subrequests = []
        for number, chunk in enumerate(chunks):
            request = _collection_request(method, [item for _, item in chunk])
            url = f"/services/data/v{self._api_version}/{path}"
            if "params" in request:
                url += "?" + "&".join(f"{name}={value}" for name, value in request["params"].items())
            subrequest: dict[str, Any] = {
                "method": method,
                "url": url,
                "referenceId": f"chunk{number}",
                "httpHeaders": {CALL_OPTIONS_HEADER: f"client={self._options.hub_client_id}"},
            }
            if "json" in request:
                subrequest["body"] = request["json"]
            subrequests.append(subrequest)
        answer = self._call(
            lambda sf: sf.restful(
                "composite", method="POST", json={"allOrNone": False, "compositeRequest": subrequests}
            )
        )
        by_reference = {sub.get("referenceId"): sub for sub in (answer or {}).get("compositeResponse", [])}
        answers: list[tuple[int, Any]] = []
        for number in range(len(chunks)):
            sub = by_reference.get(f"chunk{number}")
            if sub is None:  # no answer for this subrequest: whether it ran is unknown (a result per record says so)
                answers.append((200, []))
            else:
                answers.append((int(sub.get("httpStatusCode", 500)), sub.get("body")))
        return answers

    # -------------------------------------------------------------- Bulk API 2.0

    def bulk_ingest(
        self,
        sobject: str,
        operation: BulkOperation,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None = None,
    ) -> WriteOutcome:
        if operation is BulkOperation.UPSERT and external_id_field:
            return once_per_external_id(
                records,
                external_id_field,
                lambda unique: self._bulk_ingest(sobject, operation, unique, external_id_field),
            )
        return self._bulk_ingest(sobject, operation, records, external_id_field)

    def _bulk_ingest(
        self,
        sobject: str,
        operation: BulkOperation,
        records: Sequence[Mapping[str, Any]],
        external_id_field: str | None = None,
    ) -> WriteOutcome:
        if not records:
            return WriteOutcome()
        # create + upload + close + polls + three result downloads; unused calls are given back afterwards.
        try:
            decision = self._grant(3 + self._options.bulk_max_polls + 3, all_or_nothing=True)
        except _CallFailed as failed:
            return self._unsent([dict(record) for record in records], failed.failure)
        if not decision.fully_granted:
            assert decision.reason is not None and decision.resume_after is not None
            return _all_deferred([dict(record) for record in records], decision.reason, decision.resume_after)
        columns = _columns(records)
        everyone = range(len(records))
        job_id: str | None = None
        with self._spending(decision.granted):
            try:
                job_id = self._create_ingest_job(sobject, operation, external_id_field)
                self._bulk_send("PUT", f"ingest/{job_id}/batches", data=_to_csv(columns, records), content="text/csv")
                self._bulk_send("PATCH", f"ingest/{job_id}", json={"state": "UploadComplete"})
            except _CallFailed as failed:
                # Nothing was committed for processing (a job left Open never runs): wait if a later try may pass.
                return self._unsent([dict(record) for record in records], failed.failure)
            try:
                job = self._wait_for_job("ingest", job_id)
                if job is None:
                    pending = SalesforceFailure(
                        code="BULK_JOB_PENDING", message=f"Bulk job {job_id} still running; its results are unknown"
                    )
                    return WriteOutcome(results=[RecordResult.failed(index, pending) for index in everyone])
                state = str(job.get("state") or "Failed")
                if state == "JobComplete":
                    return WriteOutcome(results=self._ingest_results(job_id, columns, records))
                # Failed or Aborted: rows processed before that still have results; the others get the job's failure.
                ended = SalesforceFailure(
                    code="BULK_JOB_" + state.upper(),
                    message=str(job.get("errorMessage") or f"Bulk job {job_id} is {state}"),
                )
                try:
                    return WriteOutcome(results=self._ingest_results(job_id, columns, records, leftover=ended))
                except _CallFailed:
                    return WriteOutcome(results=[RecordResult.failed(index, ended) for index in everyone])
            except _CallFailed as failed:
                # The job was handed over: it runs on, so its rows' outcome is unknown, not deferred.
                unknown = failed.failure.model_copy(
                    update={"message": f"Bulk job {job_id}, results unknown: {failed.failure.message}"}
                )
                return WriteOutcome(results=[RecordResult.failed(index, unknown) for index in everyone])

    def _create_ingest_job(self, sobject: str, operation: BulkOperation, external_id_field: str | None) -> str:
        body = {"object": sobject, "operation": operation.value, "contentType": "CSV", "lineEnding": "LF"}
        if operation is BulkOperation.UPSERT:
            body["externalIdFieldName"] = external_id_field or ""
        return str(self._bulk_send("POST", "ingest", json=body).json()["id"])

    def _wait_for_job(self, kind: Literal["ingest", "query"], job_id: str) -> dict[str, Any] | None:
        """The job once final, or None if it is still running after bulk_max_polls."""
        for wait in self._poll_waits():
            time.sleep(wait)
            job: dict[str, Any] = self._bulk_send("GET", f"{kind}/{job_id}").json()
            if job.get("state") in BULK_FINAL_STATES:
                return job
        return None

    def _poll_waits(self) -> Iterator[float]:
        """How long to wait before each job-status poll: a job is never complete when it is closed (UploadComplete,
        then InProgress), small jobs finish within a second or two, big ones take minutes: start short, grow."""
        wait = self._options.bulk_poll_interval
        for _poll in range(self._options.bulk_max_polls):
            yield wait
            wait = min(wait * 1.5, self._options.bulk_poll_max_interval)

    def _ingest_results(
        self,
        job_id: str,
        columns: list[str],
        records: Sequence[Mapping[str, Any]],
        *,
        leftover: SalesforceFailure | None = None,
    ) -> list[RecordResult]:
        # Result order is not guaranteed: find each row's record by the original columns it echoes.
        waiting: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for index, record in enumerate(records):
            waiting[tuple(_csv_value(record[column]) if column in record else "" for column in columns)].append(index)

        def take(row: Mapping[str, str]) -> int | None:
            indexes = waiting.get(tuple(row.get(column, "") for column in columns))
            return indexes.pop(0) if indexes else None

        results: list[RecordResult] = []
        for row in _csv_rows(self._bulk_send("GET", f"ingest/{job_id}/successfulResults").text):
            if (found := take(row)) is not None:
                created = row.get("sf__Created", "").lower() == "true"
                results.append(RecordResult(index=found, id=row.get("sf__Id") or None, success=True, created=created))
        for row in _csv_rows(self._bulk_send("GET", f"ingest/{job_id}/failedResults").text):
            if (found := take(row)) is not None:
                failure = bulk_error_failure(row.get("sf__Error", ""))
                results.append(RecordResult.failed(found, failure, record_id=row.get("sf__Id") or None))
        unprocessed = SalesforceFailure(
            code="BULK_UNPROCESSED", message="the job ended before this record was processed"
        )
        for row in _csv_rows(self._bulk_send("GET", f"ingest/{job_id}/unprocessedrecords").text):
            if (found := take(row)) is not None:
                results.append(RecordResult.failed(found, unprocessed))
        missing = leftover or SalesforceFailure(code="BULK_RESULT_MISSING", message="no result row matched this record")
        results.extend(RecordResult.failed(index, missing) for indexes in waiting.values() for index in indexes)
        return sorted(results, key=lambda result: result.index)

    def bulk_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, str]]:
        operation = "queryAll" if include_deleted else "query"
        job_id = str(self._bulk_read("POST", "query", json={"operation": operation, "query": soql}).json()["id"])
        job: dict[str, Any] | None = None
        for wait in self._poll_waits():
            time.sleep(wait)
            job = self._bulk_read("GET", f"query/{job_id}").json()
            if job and job.get("state") in BULK_FINAL_STATES:
                break
        if not job or job.get("state") != "JobComplete":
            state = job.get("state") if job else "UNKNOWN"
            failure = SalesforceFailure(
                code="BULK_QUERY_" + str(state).upper(),
                message=str((job or {}).get("errorMessage") or f"query job {job_id} is {state}"),
            )
            raise failure.to_error()
        locator: str | None = None
        while True:
            params = {"maxRecords": str(self._options.bulk_results_page_size)}
            if locator:
                params["locator"] = locator
            page = self._bulk_read("GET", f"query/{job_id}/results", params=params)
            yield from _csv_rows(page.text)
            locator = page.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                return

    def _bulk_read(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response: requests.Response = self._read(lambda _sf: self._bulk_request(method, path, **kwargs))
        return response

    def _bulk_send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self._call(lambda _sf: self._bulk_request(method, path, **kwargs))

    def _bulk_request(
        self, method: str, path: str, *, content: str = "application/json", **kwargs: Any
    ) -> requests.Response:
        sf = self._salesforce()
        headers = {**sf.headers, "Content-Type": content, "Accept": "application/json"}
        response = self._http.request(method, sf.bulk2_url + path, headers=headers, **kwargs)
        if response.status_code >= 300:
            exception_handler(response, name=path)  # raises simple-salesforce's error, as its own calls do
        return response

    # -------------------------------------------------------------- session, errors, budget

    def _salesforce(self) -> Salesforce:
        if self._sf is None:
            self._token = self._tokens.current()
            self._sf = Salesforce(
                instance_url=self._token.instance_url,
                session_id=self._token.access_token.get_secret_value(),
                version=self._api_version,
                session=self._http,
                object_pairs_hook=dict,
            )
        return self._sf

    def _call[T](self, action: Callable[[Salesforce], T]) -> T:
        """Run one HTTP call; on an expired session get a new token once and run it once more.

        Every failure, the token endpoint's included, leaves as _CallFailed: writes must turn it into deferral or
        per-record results without losing the results of the calls they already made.
        """
        renewed = False
        while True:
            try:
                sf = self._salesforce()
                return action(sf)
            except SalesforceExpiredSession as error:
                if renewed:
                    raise _CallFailed(_failure(error)) from error
                logger.info("Salesforce session expired; getting a new token")
                assert self._token is not None
                stale, self._sf, renewed = self._token, None, True
                try:
                    self._token = self._tokens.renew(stale)
                except (RetryableError, PermanentError) as token_error:
                    raise _CallFailed(_token_failure(token_error)) from token_error
            except SalesforceError as error:
                raise _CallFailed(_failure(error)) from error
            except (RetryableError, PermanentError) as error:  # the token endpoint or the secret
                raise _CallFailed(_token_failure(error)) from error
            except requests.Timeout as error:
                raise _CallFailed(SalesforceFailure(code="TIMEOUT", message=str(error))) from error
            except requests.RequestException as error:  # refused, reset, TLS, chunked or undecodable answers
                message = f"{type(error).__name__}: {error}"
                raise _CallFailed(SalesforceFailure(code="CONNECTION_ERROR", message=message)) from error

    def _grant(self, calls: int, *, all_or_nothing: bool = False) -> BudgetDecision:
        """Ask the governor, then reserve what it grants in the shared daily count (atomically)."""
        now = self._clock.now()
        day = budget_day(now)
        stored = self._budget_store.day(day)
        # The store's figure is another container's; once it is old (it may say "exhausted" about a rolling window
        # that has since freed up) ask Salesforce again rather than wait for the next UTC day.
        stored_org = stored.org if org_usage_is_current(stored.org, now) else None
        org = self._org_usage or stored_org or self._fetch_limits(day)
        for _attempt in range(2):
            state = BudgetState(
                org=org,
                hub_used_today=stored.calls,
                run_used=self._calls_this_run,
                share=self._options.api_budget_share,
                run_cap=self._options.api_calls_per_run,
            )
            decision = decide_budget(state, calls, now)
            if all_or_nothing and not decision.fully_granted:
                decision = decision.model_copy(update={"granted": 0})
            if not decision.granted:
                break
            if self._budget_store.reserve(day, decision.granted, allowance=state.hub_allowance, org=org):
                return decision
            # Another worker took calls between our read and our reservation: decide again on the new count.
            stored = self._budget_store.day(day)
        if decision.granted:  # lost the race twice: the share is nearly spent; look again shortly
            decision = BudgetDecision(
                requested=calls,
                granted=0,
                reason=DeferralReason.HUB_SHARE,
                resume_after=resume_time(DeferralReason.RUN_CAP, now),
            )
        if decision.requested:
            logger.info("Salesforce API budget reached", reason=decision.reason, resume_after=decision.resume_after)
        return decision

    def _fetch_limits(self, day: str) -> ApiUsage:
        """The org's usage when neither this client nor the store has seen it yet (one call, counted)."""
        before = self._calls_this_run
        try:
            usage = self._stamped(_usage_from_limits(self._call(lambda sf: sf.limits())))
        finally:
            self._budget_store.add(day, self._calls_this_run - before, org=None)
        self._org_usage = self._org_usage or usage
        return self._org_usage

    @contextmanager
    def _spending(self, reserved: int) -> Iterator[None]:
        """Settle the shared count afterwards: give back unused calls, add extra ones (a re-authenticated retry)."""
        day = budget_day(self._clock.now())
        before = self._calls_this_run
        try:
            yield
        finally:
            made = self._calls_this_run - before
            if made != reserved:
                self._budget_store.add(day, made - reserved, org=self._org_usage)

    def _exhausted(self, decision: BudgetDecision, *, next_records_url: str | None) -> BudgetExhaustedError:
        resume = decision.resume_after or self._clock.now()
        return BudgetExhaustedError(
            f"Salesforce API budget reached ({decision.reason}); resume after {resume.isoformat()}",
            code="API_BUDGET_REACHED",
            retry_after_seconds=max(0.0, (resume - self._clock.now()).total_seconds()),
            reason=str(decision.reason),
            resume_after=resume.isoformat(),
            next_records_url=next_records_url,
        )


# ------------------------------------------------------------------ helpers


def _next_page(sf: Salesforce, *, next_url: str) -> Any:
    return sf.query_more(next_url, identifier_is_url=True)


def _failure(error: SalesforceError) -> SalesforceFailure:
    return failures_from_body(int(error.status), error.content)[0]


def _token_failure(error: RetryableError | PermanentError) -> SalesforceFailure:
    """A failed token request (or an unreadable secret) as a failure that keeps its class, code and message."""
    status = error.details.get("http_status")
    return SalesforceFailure(
        code=error.code or "AUTHENTICATION_FAILED",
        message=error.message,
        http_status=status if isinstance(status, int) else None,
    )


def _usage_from_limits(limits: Mapping[str, Any]) -> ApiUsage:
    daily = limits["DailyApiRequests"]
    return ApiUsage(used=int(daily["Max"]) - int(daily["Remaining"]), max=int(daily["Max"]))


def _typed(sobject: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"attributes": {"type": sobject}, **record} for record in records]


def _collection_request(method: str, items: list[Any]) -> dict[str, Any]:
    """simple-salesforce `restful` kwargs of one sObject Collections request (allOrNone false: a result per record)."""
    if method == "DELETE":
        return {"method": method, "params": {"ids": ",".join(items), "allOrNone": "false"}}
    return {"method": method, "json": {"allOrNone": False, "records": items}}


def _columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(name for name in record if name != "attributes"))
    return list(seen)


def _csv_value(value: Any) -> str:
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _to_csv(columns: list[str], records: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    # A column a record lacks stays empty (Bulk leaves the field alone); an explicit None becomes #N/A (null).
    writer.writerows(
        [_csv_value(record[column]) if column in record else "" for column in columns] for record in records
    )
    return buffer.getvalue()


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text))) if text.strip() else []


def _records_of(calls: list[list[list[tuple[int, Any]]]]) -> list[tuple[int, Any]]:
    """The (index, item) pairs that some packed calls carry, in order."""
    return [pair for chunks in calls for chunk in chunks for pair in chunk]


def _all_deferred(items: list[Any], reason: DeferralReason, resume_after: datetime) -> WriteOutcome:
    """A write none of whose items was sent: every one waits, none failed."""
    return WriteOutcome(
        deferred=DeferredWork(indexes=list(range(len(items))), items=items, reason=reason, resume_after=resume_after)
    )


# ------------------------------------------------------------------ one record per external id, unknown fields

UNKNOWN_FIELD_RE = re.compile(r"No such column '([^']+)'")


def once_per_external_id(
    records: Sequence[Mapping[str, Any]],
    external_id_field: str,
    send: Callable[[Sequence[Mapping[str, Any]]], WriteOutcome],
) -> WriteOutcome:
    """Send each external id once, its last record (the newest state), and give the earlier ones that record's fate.

    Salesforce fails every row of one upsert (a Collections request, a Bulk 2.0 chunk) that names an external id
    another row names too ("DUPLICATE_VALUE: Duplicate external id specified"): sending both would fail both. The
    earlier records were superseded by the later one, as if sent one after the other: they get its result
    (never `created`), or wait with it when it is deferred. Values compare exactly; Salesforce also matches a unique
    external id case-insensitively, so "abc" and "ABC" still reach it together and fail there, per record.
    """
    last: dict[str, int] = {}
    for index, record in enumerate(records):
        key = record.get(external_id_field)
        if key is not None and key != "":
            last[str(key)] = index
    kept = [index for index, record in enumerate(records) if _key_of(record, external_id_field, last) in (None, index)]
    if len(kept) == len(records):
        return send(records)
    outcome = send([records[index] for index in kept])
    results = {
        kept[result.index]: result.model_copy(update={"index": kept[result.index]}) for result in outcome.results
    }
    deferred_indexes = {kept[index] for index in outcome.deferred.indexes} if outcome.deferred else set()
    for index, record in enumerate(records):
        winner = _key_of(record, external_id_field, last)
        if winner is None or winner == index:
            continue
        if winner in deferred_indexes:
            deferred_indexes.add(index)
        elif winner in results:
            results[index] = results[winner].model_copy(update={"index": index, "created": False})
    deferred = None
    if outcome.deferred is not None:
        # Deferred items keep the shape the write gave them (Collections items carry `attributes`).
        sent_items = {kept[position]: item for position, item in zip(*_deferred_pairs(outcome), strict=True)}
        ordered = sorted(deferred_indexes)
        items = []
        for index in ordered:
            if index in sent_items:
                items.append(sent_items[index])
                continue
            shape = sent_items[_key_of(records[index], external_id_field, last) or 0]
            attributes = shape.get("attributes") if isinstance(shape, Mapping) else None
            items.append({"attributes": attributes, **records[index]} if attributes else dict(records[index]))
        deferred = outcome.deferred.model_copy(update={"indexes": ordered, "items": items})
    return WriteOutcome(results=[results[index] for index in sorted(results)], deferred=deferred)


def _deferred_pairs(outcome: WriteOutcome) -> tuple[list[int], list[Any]]:
    return (outcome.deferred.indexes, outcome.deferred.items) if outcome.deferred else ([], [])


def _key_of(record: Mapping[str, Any], field: str, last: Mapping[str, int]) -> int | None:
    """The index of the record that is sent for this record's external id (None: it has none)."""
    key = record.get(field)
    return None if key is None or key == "" else last[str(key)]


def _split_on_unknown_field(
    failure: SalesforceFailure, chunk: list[tuple[int, Any]]
) -> tuple[list[RecordResult], list[tuple[int, Any]]]:
    """A Collections request refused as a whole: (results for the records it fails, records to send again).

    When the refusal is INVALID_FIELD naming a field ("No such column 'X' ..."), only the records that carry that
    field are at fault: they fail with it (permanent) and the others are sent again. Whether Salesforce refuses the
    whole request for one row's unknown field or fails that row alone is not documented; both end the same way here.
    """
    match = UNKNOWN_FIELD_RE.search(failure.message) if failure.code == "INVALID_FIELD" else None
    if match is None:
        return [RecordResult.failed(index, failure) for index, _ in chunk], []
    field = match.group(1).lower()
    at_fault = [(index, item) for index, item in chunk if isinstance(item, Mapping) and field in map(str.lower, item)]
    if not at_fault:
        return [RecordResult.failed(index, failure) for index, _ in chunk], []
    named = failure.model_copy(update={"fields": (match.group(1),)})
    faulty = {index for index, _ in at_fault}
    innocent = [(index, item) for index, item in chunk if index not in faulty]
    return [RecordResult.failed(index, named) for index, _ in at_fault], innocent


def _merged(first: WriteOutcome, again: WriteOutcome, indexes: list[int]) -> WriteOutcome:
    """`first` plus the outcome of sending the records at `indexes` again (its indexes are positions in that list)."""
    results = [
        *first.results,
        *(result.model_copy(update={"index": indexes[result.index]}) for result in again.results),
    ]
    deferred = first.deferred
    if again.deferred is not None:
        extra = [indexes[index] for index in again.deferred.indexes]
        if deferred is None:
            deferred = again.deferred.model_copy(update={"indexes": extra})
        else:
            pairs = sorted(
                [*zip(deferred.indexes, deferred.items, strict=True), *zip(extra, again.deferred.items, strict=True)],
                key=lambda pair: pair[0],
            )
            deferred = deferred.model_copy(
                update={"indexes": [index for index, _ in pairs], "items": [item for _, item in pairs]}
            )
    return WriteOutcome(results=sorted(results, key=lambda result: result.index), deferred=deferred)
