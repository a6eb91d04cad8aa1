"""Change Data Capture on the local stack, as `make run` starts it: the emulator's Event Relay puts each change
event on the local EventBridge bus named like its source, whose rule (the stack sets SalesforceEventBusName to
that name) invokes salesforce_events. Leads have no outbound message here, so what reaches the hub's leads
came through change events alone."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.e2e.conftest import RunningLocalStack
from tests.e2e.test_realtime_e2e import _deliveries, _hub_records, _salesforce_change, _settled
from tests.e2e.test_sync_e2e import _api, _emulator, _sync_status, _wait

HUB_ORIGIN = "com/salesforce/api/rest/62.0;client=SyncHub"  # the hub's HubClientId (template default)


def _lead(stack: RunningLocalStack, salesforce_id: str, **wanted: Any) -> dict[str, Any]:
    """The hub's lead of that Salesforce id, once its fields hold `wanted`."""

    def found() -> dict[str, Any] | None:
        for record in _hub_records(stack, "Lead", salesforce_id):
            if all(record["fields"].get(name) == value for name, value in wanted.items()):
                return record
        return None

    return dict(_wait(stack, found, f"the hub lead of {salesforce_id} with {wanted}"))


def _relayed(stack: RunningLocalStack, salesforce_id: str, change_type: str) -> list[dict[str, Any]]:
    """The change events of the record the local bus received (GET /__local/events)."""
    return [
        event
        for event in _api(stack, "GET", "/__local/events").json()
        if salesforce_id in event["detail"]["payload"]["ChangeEventHeader"]["recordIds"]
        and event["detail"]["payload"]["ChangeEventHeader"]["changeType"] == change_type
    ]


def test_a_salesforce_edit_reaches_the_hub_through_change_data_capture(local_stack: RunningLocalStack) -> None:
    company = f"CDC {uuid.uuid4().hex[:8]} GmbH"
    fields = {"LastName": "Okafor", "FirstName": "Ada", "Company": company, "Phone": "+49 30 555 0100"}
    salesforce_id = _salesforce_change(local_stack, "create", "Lead", fields=fields)
    record = _lead(local_stack, salesforce_id, company=company)
    assert (record["fields"]["last_name"], record["fields"]["phone"]) == ("Okafor", "+49 30 555 0100")
    status = _sync_status(local_stack, "Lead", record["id"])
    assert (status["status"], status["external_ref"]) == ("Synchronized", salesforce_id)
    assert _relayed(local_stack, salesforce_id, "CREATE")  # it came as a change event

    # An update naming a cleared field (nulledFields) and a changed one
    _salesforce_change(local_stack, "update", "Lead", id=salesforce_id, fields={"Phone": None, "Title": "Buyer"})
    updated = _lead(local_stack, salesforce_id, title="Buyer")
    assert updated["fields"].get("phone") is None and updated["id"] == record["id"]

    # The same event again (EventBridge delivers at least once) and the CREATE late: nothing changes
    _settled(local_stack)
    [update] = _relayed(local_stack, salesforce_id, "UPDATE")
    [create] = _relayed(local_stack, salesforce_id, "CREATE")
    entries = [
        {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "EventBusName": event["source"],
        }
        for event in (update, create)
    ]
    assert _api(local_stack, "POST", "/__local/events", {"Entries": entries}).json()["MatchedRules"] == 2
    # A later edit arrives after them (the bus delivers in order): they were handled by then
    _salesforce_change(local_stack, "update", "Lead", id=salesforce_id, fields={"Rating": "Warm"})
    after = _lead(local_stack, salesforce_id, rating="Warm")
    assert (after["fields"]["title"], after["fields"].get("phone")) == ("Buyer", None)
    assert after["version"] == updated["version"] + 1


def test_a_gap_event_re_reads_the_record_and_the_hubs_own_echo_is_dropped(local_stack: RunningLocalStack) -> None:
    # A lead the hub never heard of (inserted without events), then a gap event naming it: read through REST
    company = f"Gap {uuid.uuid4().hex[:8]} BV"
    [salesforce_id] = _emulator(
        local_stack, "/seed", "POST", {"sobject": "Lead", "records": [{"LastName": "Visser", "Company": company}]}
    )["ids"]
    assert _hub_records(local_stack, "Lead", salesforce_id) == []
    _emulator(local_stack, "/cdc/gap", "POST", {"sobject": "Lead", "changeType": "GAP_UPDATE", "ids": [salesforce_id]})
    record = _lead(local_stack, salesforce_id, company=company)
    assert record["fields"]["last_name"] == "Visser"

    # A change the hub itself made (its client id in changeOrigin) is dropped; a user's later edit applies
    _salesforce_change(local_stack, "update", "Lead", id=salesforce_id, fields={"Title": "Echo"}, origin=HUB_ORIGIN)
    _salesforce_change(local_stack, "update", "Lead", id=salesforce_id, fields={"Rating": "Hot"})
    after = _lead(local_stack, salesforce_id, rating="Hot")
    assert after["fields"].get("title") is None  # the echo's value never reached the hub
    assert after["version"] == record["version"] + 1


def test_an_account_edit_arriving_both_as_an_outbound_message_and_a_change_event_applies_once(
    local_stack: RunningLocalStack,
) -> None:
    name = f"Both {uuid.uuid4().hex[:8]} AS"
    salesforce_id = _salesforce_change(local_stack, "create", "Account", fields={"Name": name, "Phone": "+47 555"})
    _wait(local_stack, lambda: _relayed(local_stack, salesforce_id, "CREATE"), "the change event")
    _wait(local_stack, lambda: _deliveries(local_stack, salesforce_id), "the acknowledged outbound message")
    # A later edit (it comes both ways too); its change event follows the create's on the bus, in order
    _salesforce_change(local_stack, "update", "Account", id=salesforce_id, fields={"Industry": "Shipping"})
    _wait(
        local_stack,
        lambda: [r for r in _hub_records(local_stack, "Account", salesforce_id) if r["fields"].get("industry")],
        "the edit",
    )
    _settled(local_stack)
    [record] = _hub_records(local_stack, "Account", salesforce_id)
    # one record, created once and edited once, however many ways each change came
    assert (record["fields"]["name"], record["fields"]["industry"], record["version"]) == (name, "Shipping", 2)
    status = _sync_status(local_stack, "Account", record["id"])
    assert (status["status"], status["external_ref"]) == ("Synchronized", salesforce_id)
