"""The scheduled sync's service on in-memory ports: the change limit stops at a stamp boundary, the watermark
moves only over queued stamps, a pull request for a never-pulled entity sets no watermark, and the deadline
leaves entities for the next tick."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import Change
from sync_core.domain.sync.schedule import EntityRun
from sync_core.domain.sync_config import EntitySyncConfig
from sync_core.domain.sync_state import SyncState
from sync_core.ports.pulls import PullRequest
from sync_core.ports.salesforce import QueryPage, SalesforceRecord
from sync_core.services.scheduled_sync import ScheduledSyncService, ScheduleOptions

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
WEEKLY = {"kind": "weekly", "at": "12:00", "weekday": 4}


class Clock:
    def __init__(self) -> None:
        self.moment = NOW

    def now(self) -> datetime:
        return self.moment


class Configs:
    def __init__(self, *configs: EntitySyncConfig) -> None:
        self.held = {config.entity: config for config in configs}

    def get(self, entity: EntityName) -> EntitySyncConfig:
        return self.held.get(entity) or EntitySyncConfig(entity=entity)

    def list(self) -> list[EntitySyncConfig]:
        return [self.get(entity) for entity in EntityName]

    def put(self, config: EntitySyncConfig) -> None:
        self.held[config.entity] = config


class Ledger:
    def __init__(self) -> None:
        self.held: dict[EntityName, EntityRun] = {}
        self.leased: set[EntityName] = set()

    def runs(self) -> dict[EntityName, EntityRun]:
        return dict(self.held)

    def acquire(self, entity: EntityName, *, owner: str, now: datetime, until: datetime) -> EntityRun | None:
        if entity in self.leased:
            return None
        self.leased.add(entity)
        return self.held.get(entity, EntityRun(entity))

    def finish(self, entity: EntityName, *, owner: str, watermark: Any, last_run: Any, catching_up: bool) -> bool:
        self.leased.discard(entity)
        run = self.held.get(entity, EntityRun(entity))
        self.held[entity] = replace(
            run,
            watermark=watermark or run.watermark,
            last_run=last_run or run.last_run,
            catching_up=catching_up,
        )
        return True


class Pulls:
    def __init__(self, *requests: PullRequest) -> None:
        self.held = list(requests)

    def request(self, entity: EntityName, *, reason: str, at: datetime) -> None: ...

    def pending(self) -> list[PullRequest]:
        return list(self.held)

    def clear(self, entity: EntityName, *, up_to: datetime) -> bool:
        self.held = [request for request in self.held if request.entity is not entity]
        return True


class Pending:
    def candidates(self, entity: EntityName, **_: Any) -> list[SyncState]:
        return []


class Salesforce:
    """Rows of one object, stamp-ordered, two a page; counts its calls and the queries it was asked."""

    def __init__(self, rows: list[SalesforceRecord]) -> None:
        self.rows = rows
        self.queries: list[str] = []

    def query_all_page(self, soql: str) -> QueryPage:
        self.queries.append(soql)
        return QueryPage(len(self.rows), self.rows[:2], "/next" if len(self.rows) > 2 else None)

    def query_more(self, next_records_url: str) -> Iterator[SalesforceRecord]:
        yield from self.rows[2:]


class Queue:
    def __init__(self, refuse: int = 0) -> None:
        self.sent: list[Change] = []
        self.refuse = refuse

    def send(self, changes: Sequence[Change]) -> list[Change]:
        refused = list(changes[len(changes) - self.refuse :]) if self.refuse else []
        self.sent += [change for change in changes if change not in refused]
        return refused


def _row(number: int, second: int) -> SalesforceRecord:
    return {
        "Id": f"001{number:015d}",
        "SystemModstamp": f"2026-12-02T09:00:{second:02d}.000+0000",
        "IsDeleted": False,
        "Name": f"Row {number}",
    }


def _service(
    rows: list[SalesforceRecord], *, pulls: Pulls | None = None, queue: Queue | None = None, **options: Any
) -> tuple[ScheduledSyncService, Ledger, Queue, Clock, Salesforce]:
    ledger, sync_queue, clock, salesforce = Ledger(), queue or Queue(), Clock(), Salesforce(rows)
    configs = Configs(EntitySyncConfig.model_validate({"entity": "Account", "schedule": WEEKLY}))
    service = ScheduledSyncService(
        configs=configs,
        ledger=ledger,
        pulls=pulls or Pulls(),
        pending=Pending(),
        salesforce=lambda: salesforce,  # type: ignore[arg-type,return-value]
        import_queue=sync_queue,
        export_queue=Queue(),
        clock=clock,
        options=ScheduleOptions(**{"send_chunk": 2, **options}),
    )
    return service, ledger, sync_queue, clock, salesforce


def test_the_change_limit_stops_at_the_end_of_a_stamp_and_the_next_tick_carries_on() -> None:
    # Five rows: stamps 1, 2, 2, 2, 3. A limit of 2 takes through the end of stamp 2 (four rows).
    rows = [_row(1, 1), _row(2, 2), _row(3, 2), _row(4, 2), _row(5, 3)]
    service, ledger, _, _, salesforce = _service(rows, max_changes_per_run=2)

    [entry] = service.run_due(NOW).entities

    assert (entry.pulled, entry.complete) == (4, False)
    run = ledger.held[EntityName.ACCOUNT]
    assert run.watermark == datetime(2026, 12, 2, 9, 0, 2, tzinfo=UTC) and run.catching_up and run.last_run is None
    [again] = service.run_due(NOW).entities
    assert again.reason.value == "catching up"
    assert "SystemModstamp >= 2026-12-02T08:58:02Z" in salesforce.queries[-1]  # watermark less the overlap


def test_a_refused_chunk_keeps_the_watermark_below_its_first_refused_change() -> None:
    rows = [_row(1, 1), _row(2, 2), _row(3, 3), _row(4, 4)]
    service, ledger, _, _, _ = _service(rows, queue=Queue(refuse=1))  # each chunk's last change refused

    [entry] = service.run_due(NOW).entities

    assert (entry.pulled, entry.refused, entry.complete) == (1, 1, False)
    assert ledger.held[EntityName.ACCOUNT].watermark == datetime(2026, 12, 2, 9, 0, 1, tzinfo=UTC)


def test_a_pull_request_for_an_entity_never_pulled_sets_no_watermark() -> None:
    request = PullRequest(EntityName.ACCOUNT, "GAP_OVERFLOW", since=NOW - timedelta(hours=1), latest=NOW)
    pulls = Pulls(request)
    service, ledger, _, _, salesforce = _service([_row(1, 1)], pulls=pulls)
    service._configs = Configs()  # type: ignore[attr-defined]  # no schedule: only the request runs it

    [entry] = service.run_due(NOW).entities

    assert (entry.reason.value, entry.pulled, entry.complete) == ("pull request", 1, True)
    assert "SystemModstamp >= 2026-12-02T08:58:00Z" in salesforce.queries[0]
    assert ledger.held[EntityName.ACCOUNT].watermark is None  # its first full pull still owes the older rows
    assert pulls.pending() == []


def test_past_the_deadline_due_entities_wait_for_the_next_tick() -> None:
    service, ledger, queue, clock, _ = _service([_row(1, 1)])
    clock.moment = NOW + timedelta(minutes=5)

    report = service.run_due(NOW, deadline=NOW + timedelta(minutes=1))

    assert report.entities == [] and report.postponed == [EntityName.ACCOUNT]
    assert queue.sent == [] and EntityName.ACCOUNT not in ledger.held


class _BudgetSpentAfterFirstPage(Salesforce):
    def query_more(self, next_records_url: str) -> Iterator[SalesforceRecord]:
        from sync_core.errors import BudgetExhaustedError

        raise BudgetExhaustedError("the hub's share of today's API calls is spent")
        yield  # pragma: no cover


def test_a_pull_the_budget_stops_half_way_keeps_what_it_queued_and_carries_on_at_the_next_tick() -> None:
    rows = [_row(1, 1), _row(2, 2), _row(3, 3)]
    service, ledger, queue, _, _ = _service(rows)
    service._new_salesforce = lambda: _BudgetSpentAfterFirstPage(rows)  # type: ignore[attr-defined,assignment]

    [entry] = service.run_due(NOW).entities

    assert (entry.pulled, entry.complete) == (2, False) and "BudgetExhaustedError" in (entry.error or "")
    run = ledger.held[EntityName.ACCOUNT]
    assert run.watermark == datetime(2026, 12, 2, 9, 0, 2, tzinfo=UTC)  # the first page's changes, queued
    assert run.catching_up and run.last_run is None
    assert len(queue.sent) == 2


def test_an_unexpected_failure_gives_the_lease_back_and_leaves_the_entity_due() -> None:
    service, ledger, _, _, _ = _service([_row(1, 1)])

    def broken() -> Salesforce:
        raise RuntimeError("a bug")

    service._new_salesforce = broken  # type: ignore[attr-defined,assignment]
    try:
        service.run_due(NOW)
    except RuntimeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the failure must propagate")

    run = ledger.held[EntityName.ACCOUNT]
    assert (run.last_run, run.catching_up) == (None, True) and not ledger.leased
