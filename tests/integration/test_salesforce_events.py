"""The change-event consumer through its handler, in the engine in-process (moto, the emulator as the org):
the emulator's Event Relay events in, changes on the FIFO sync queue, applied by the sync worker. Its
DynamoDB calls are recorded and held to its role in template.yaml (least privilege)."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.pulls import DynamoPullRequests
from sync_core.domain.entities import EntityName
from sync_core.errors import RetryableError
from tests.conftest import load_event
from tests.integration.test_least_privilege import DynamoCallRecorder, _physical_tables
from tests.support.engine import Engine, running_engine
from tests.support.waiting import wait_until
from tools.template_info import dynamodb_grants

HUB_ORIGIN = "com/salesforce/api/rest/62.0;client=SyncHub"  # what the hub's own REST writes carry


@dataclass
class Relay:
    """The engine, the emulator's change events as Event Relay emits them, and the consumer's DynamoDB calls."""

    engine: Engine
    events: list[dict[str, Any]]
    calls: DynamoCallRecorder
    recording: list[bool] = field(default_factory=lambda: [False])

    def event(self, salesforce_id: str, change_type: str, *, after: int = 0) -> dict[str, Any]:
        """The first change event of that type naming the record, after the first `after` events."""

        def found() -> dict[str, Any] | None:
            for event in self.events[after:]:
                header = event["detail"]["payload"]["ChangeEventHeader"]
                if salesforce_id in header["recordIds"] and header["changeType"] == change_type:
                    return event
            return None

        return dict(wait_until(found, message=f"{change_type} event of {salesforce_id}"))

    def relay(self, event: dict[str, Any]) -> dict[str, Any]:
        self.recording[0] = True
        try:
            return dict(self.engine.relay(event))
        finally:
            self.recording[0] = False

    def user_change(self, op: str, salesforce_id: str | None = None, **fields: Any) -> str:
        changed = self.engine.emulator.user_change(op, "Account", salesforce_id, fields)
        assert changed["success"], changed
        return str(changed["id"])

    def hub(self, salesforce_id: str) -> list[dict[str, Any]]:
        answer = self.engine.api("GET", "/records/Account", query={"salesforce_id": salesforce_id})
        return list(answer.body["items"])

    def sync_queue_depth(self) -> int:
        attributes = self.engine.sqs.get_queue_attributes(
            QueueUrl=self.engine.environment["SYNC_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def relay() -> Iterator[Relay]:
    events: list[dict[str, Any]] = []
    with running_engine(cdc_sink=events.append) as engine:
        calls = DynamoCallRecorder(_physical_tables(engine.environment))
        recording = [False]

        def record(**kwargs: Any) -> None:
            if recording[0]:
                calls(**kwargs)

        dynamodb_client().meta.events.register("provide-client-params.dynamodb.*", record)
        yield Relay(engine, events, calls, recording)


def _created(relay: Relay, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    """An account a Salesforce user creates, relayed: the hub's record of it."""
    salesforce_id = relay.user_change("create", Name=name, **fields)
    assert relay.relay(relay.event(salesforce_id, "CREATE"))["outcome"] == "queued"
    relay.engine.drain()
    [record] = relay.hub(salesforce_id)
    return salesforce_id, record


def test_a_change_event_for_a_record_the_hub_never_saw_creates_it_and_an_update_changes_it(relay: Relay) -> None:
    salesforce_id, record = _created(relay, "Fjord Freight AS", Phone="+47 555 0100")
    assert (record["fields"]["name"], record["fields"]["phone"]) == ("Fjord Freight AS", "+47 555 0100")
    status = relay.engine.api("GET", f"/records/Account/{record['id']}/sync-status").body
    assert (status["status"], status["external_ref"]) == ("Synchronized", salesforce_id)

    seen = len(relay.events)
    relay.user_change("update", salesforce_id, Phone=None, Industry="Transportation")
    update = relay.event(salesforce_id, "UPDATE", after=seen)
    assert relay.relay(update) == {"outcome": "queued", "queued": 1, "reread": 0}
    relay.engine.drain()
    [updated] = relay.hub(salesforce_id)
    assert (updated["fields"].get("phone"), updated["fields"]["industry"]) == (None, "Transportation")

    # Delivered again (EventBridge is at least once): SQS drops the repeat within five minutes (moto keeps it)
    # and the import finds nothing newer: nothing reaches the record
    relay.relay(update)
    relay.engine.drain()
    [again] = relay.hub(salesforce_id)
    assert again["version"] == updated["version"]


def test_one_event_naming_several_records_changes_each_of_them(relay: Relay) -> None:
    first, _ = _created(relay, "Nordkapp Shipping")
    second, _ = _created(relay, "Lofoten Cargo")
    event = copy.deepcopy(relay.event(first, "CREATE"))
    payload = {"ChangeEventHeader": event["detail"]["payload"]["ChangeEventHeader"], "Phone": "+47 555 0199"}
    payload["ChangeEventHeader"] |= {
        "changeType": "UPDATE",
        "recordIds": [first, second],
        "changedFields": ["Phone"],
        "sequenceNumber": 2,
        "commitTimestamp": payload["ChangeEventHeader"]["commitTimestamp"] + 60_000,
    }
    event["detail"]["payload"] = payload
    assert relay.relay(event)["queued"] == 2
    relay.engine.drain()
    assert [relay.hub(record)[0]["fields"]["phone"] for record in (first, second)] == ["+47 555 0199"] * 2


def test_a_long_text_sent_as_a_diff_is_read_back_whole_through_the_rest_api(relay: Relay) -> None:
    text = "\n".join(f"Line {number}: pallets to Tromsø, cold chain." for number in range(60))
    salesforce_id, _ = _created(relay, "Arctic Reefer", Description=text)
    edited = text.replace("Line 30:", "Line 30 (changed):")
    seen = len(relay.events)
    relay.user_change("update", salesforce_id, Description=edited)
    update = relay.event(salesforce_id, "UPDATE", after=seen)
    header = update["detail"]["payload"]["ChangeEventHeader"]
    assert header["diffFields"] == ["Description"]  # the event carries a diff, not the value
    assert relay.relay(update) == {"outcome": "queued", "queued": 1, "reread": 1}
    relay.engine.drain()
    [record] = relay.hub(salesforce_id)
    assert record["fields"]["description"] == edited


def test_a_gap_event_re_reads_its_records_and_a_deleted_one_is_deleted(relay: Relay) -> None:
    kept, _ = _created(relay, "Bergen Bulk")
    gone, _ = _created(relay, "Stavanger Tankers")
    relay.user_change("update", kept, Phone="+47 555 0142")  # its change event is lost: only the gap arrives
    relay.user_change("delete", gone)
    seen = len(relay.events)
    relay.engine.emulator.cdc.emit_gap("Account", "GAP_UPDATE", [kept, gone], "005000000000001AAA")
    gap = relay.event(kept, "GAP_UPDATE", after=seen)
    assert relay.relay(gap) == {"outcome": "queued", "queued": 2, "reread": 2}
    relay.engine.drain()
    assert relay.hub(kept)[0]["fields"]["phone"] == "+47 555 0142"
    # The default delete policy (unlink only) keeps the hub record and drops its link
    assert relay.hub(gone) == []


def test_an_overflow_asks_for_a_pull_of_the_entity(relay: Relay) -> None:
    seen = len(relay.events)
    relay.engine.emulator.cdc.emit_gap("Account", "GAP_OVERFLOW", [], "005000000000001AAA")
    overflow = wait_until(lambda: relay.events[seen:], message="GAP_OVERFLOW event")[0]
    assert relay.relay(overflow)["outcome"] == "pull requested"
    pulls = DynamoPullRequests(dynamodb_client(), sync_state_table=relay.engine.environment["SYNC_STATE_TABLE"])
    [pending] = pulls.pending()
    assert pending.entity is EntityName.ACCOUNT and pending.reason.startswith("GAP_OVERFLOW")
    assert relay.sync_queue_depth() == 0
    # The scheduled sync's next tick pulls the entity and clears the request: a record whose events were lost
    # (inserted without any) reaches the hub
    [lost] = relay.engine.emulator.seed("Account", [{"Name": "Overflowed Ocean Lines"}])
    relay.engine.tick()
    relay.engine.drain()
    assert pulls.pending() == []
    assert [record["fields"]["name"] for record in relay.hub(lost)] == ["Overflowed Ocean Lines"]


def test_the_hubs_own_change_is_dropped_and_another_integrations_applies(relay: Relay) -> None:
    salesforce_id, _ = _created(relay, "Tromsø Trawlers")
    seen = len(relay.events)
    relay.engine.emulator.user_change("update", "Account", salesforce_id, {"Phone": "+47 555 0001"}, origin=HUB_ORIGIN)
    echo = relay.event(salesforce_id, "UPDATE", after=seen)
    assert relay.relay(echo)["outcome"] == "echo"
    assert relay.sync_queue_depth() == 0
    seen = len(relay.events)
    other = "com/salesforce/api/rest/62.0;client=Workbench"
    relay.engine.emulator.user_change("update", "Account", salesforce_id, {"Phone": "+47 555 0002"}, origin=other)
    assert relay.relay(relay.event(salesforce_id, "UPDATE", after=seen))["outcome"] == "queued"
    relay.engine.drain()
    assert relay.hub(salesforce_id)[0]["fields"]["phone"] == "+47 555 0002"


def test_when_the_queue_refuses_the_event_fails_so_it_is_delivered_again(relay: Relay) -> None:
    from functions.salesforce_events import app
    from sync_core.config import get_settings

    salesforce_id = relay.user_change("create", Name="Refused Rederi")
    event = relay.event(salesforce_id, "CREATE")
    queue_url = os.environ["SYNC_QUEUE_URL"]
    os.environ["SYNC_QUEUE_URL"] = queue_url + "-gone.fifo"
    get_settings.cache_clear()
    app._service.cache_clear()
    with pytest.raises(RetryableError, match=r"1 of 1 changes of change event .* could not be queued"):
        relay.relay(event)
    os.environ["SYNC_QUEUE_URL"] = queue_url
    get_settings.cache_clear()
    app._service.cache_clear()
    relay.relay(event)  # Lambda's retry
    relay.engine.drain()
    assert relay.hub(salesforce_id)[0]["fields"]["name"] == "Refused Rederi"


def test_an_event_that_is_not_a_change_event_fails_with_a_clear_error(relay: Relay) -> None:
    from functions.salesforce_events.app import UnreadableEventError

    event = load_event("salesforce_change_event_update")
    del event["detail"]["payload"]["ChangeEventHeader"]["transactionKey"]
    with pytest.raises(UnreadableEventError, match="is not a Salesforce change event"):
        relay.relay(event)
    assert relay.sync_queue_depth() == 0


def test_an_object_the_hub_does_not_sync_is_passed_over(relay: Relay) -> None:
    event = load_event("salesforce_change_event_create")
    event["detail"]["payload"]["ChangeEventHeader"]["entityName"] = "Widget__c"
    assert relay.relay(event)["outcome"] == "not synced"


def test_the_consumer_calls_dynamodb_only_as_its_role_allows(relay: Relay) -> None:
    salesforce_id, _ = _created(relay, "Least Privilege Lines")  # an entity's configuration
    relay.engine.emulator.cdc.emit_gap("Account", "GAP_UPDATE", [salesforce_id], "005000000000001AAA")
    relay.relay(relay.event(salesforce_id, "GAP_UPDATE"))  # a Salesforce read: the API budget
    relay.engine.emulator.cdc.emit_gap("Account", "GAP_OVERFLOW", [], "005000000000001AAA")
    overflow = wait_until(
        lambda: [e for e in relay.events if e["detail"]["payload"]["ChangeEventHeader"]["changeType"] == "GAP_OVERFLOW"]
    )[0]
    relay.relay(overflow)  # a pull request
    grants = dynamodb_grants("SalesforceEventsFunction")
    outside = [access for access in relay.calls.accesses if not any(grant.allows(*access) for grant in grants)]
    assert outside == []
    used = {(table, index, action) for table, index, action, _ in relay.calls.accesses}
    assert {(grant.table, grant.index, action) for grant in grants for action in grant.actions} == used
