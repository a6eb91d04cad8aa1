"""Pull requests (sync_core.ports.pulls) in the sync state table, on moto tables created from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.pulls import DynamoPullRequests
from sync_core.domain.entities import EntityName
from tests.support.aws_stack import hub_aws_environment

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def pulls() -> Iterator[DynamoPullRequests]:
    with hub_aws_environment() as environment:
        yield DynamoPullRequests(dynamodb_client(), sync_state_table=environment["SYNC_STATE_TABLE"])


def test_requests_fold_per_entity_from_the_earliest_moment_and_list_in_dependency_order(
    pulls: DynamoPullRequests,
) -> None:
    assert pulls.pending() == []
    pulls.request(EntityName.CASE, reason="GAP_OVERFLOW", at=T0)
    pulls.request(EntityName.ACCOUNT, reason="GAP_OVERFLOW", at=T0 + timedelta(minutes=5))
    pulls.request(EntityName.ACCOUNT, reason="admin", at=T0 + timedelta(minutes=9))
    # A request for an earlier moment delivered late moves the start back; the latest stays.
    pulls.request(EntityName.ACCOUNT, reason="late GAP_OVERFLOW", at=T0 + timedelta(minutes=1))

    account, case = pulls.pending()
    assert (account.entity, case.entity) == (EntityName.ACCOUNT, EntityName.CASE)
    assert account.since == T0 + timedelta(minutes=1)
    assert account.latest == T0 + timedelta(minutes=9)
    assert (account.reason, account.requests) == ("late GAP_OVERFLOW", 3)
    assert (case.since, case.latest, case.requests) == (T0, T0, 1)


def test_clear_keeps_a_request_made_after_the_pull_began(pulls: DynamoPullRequests) -> None:
    pulls.request(EntityName.CONTACT, reason="GAP_OVERFLOW", at=T0)
    pull_began = T0 + timedelta(seconds=30)
    pulls.request(EntityName.CONTACT, reason="GAP_OVERFLOW", at=T0 + timedelta(minutes=1))  # during the pull

    assert pulls.clear(EntityName.CONTACT, up_to=pull_began) is False
    assert [request.entity for request in pulls.pending()] == [EntityName.CONTACT]

    assert pulls.clear(EntityName.CONTACT, up_to=T0 + timedelta(minutes=2)) is True
    assert pulls.pending() == []
    assert pulls.clear(EntityName.CONTACT, up_to=T0) is True  # nothing pending: nothing to keep


def test_a_naive_time_is_refused(pulls: DynamoPullRequests) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pulls.request(EntityName.LEAD, reason="x", at=datetime(2026, 12, 2, 1, 0))
