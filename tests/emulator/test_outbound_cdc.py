"""Outbound messages (SOAP envelope, batching, retries until Ack) and Change Data Capture via Event Relay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from defusedxml import ElementTree

from local.sf_emulator import EmulatorConfig, OutboundMessageConfig, RunningEmulator, start_emulator
from local.sf_emulator.cdc import schema_id
from local.sf_emulator.outbound import ack_failure
from tests.emulator.conftest import API, session_for
from tests.support.waiting import wait_until

pytestmark = pytest.mark.emulator

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OM_NS = "http://soap.sforce.com/2005/09/outbound"
SF_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack>'
    b"</notificationsResponse></soapenv:Body></soapenv:Envelope>"
)
NACK = ACK.replace(b"<Ack>true</Ack>", b"<Ack>false</Ack>")


class Receiver:
    """A tiny SOAP listener: answers from a script (status, body) then Ack true."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes]] = []
        self.bodies: list[bytes] = []
        self.headers: list[Any] = []
        self.down = False  # answers 503 while true (the endpoint is down)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(body)
                receiver.headers.append(self.headers)
                if receiver.down:
                    status, answer = 503, b"Service Unavailable"
                else:
                    status, answer = receiver.script.pop(0) if receiver.script else (200, ACK)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/salesforce/outbound"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    listener = Receiver()
    yield listener
    listener.server.shutdown()


@pytest.fixture(scope="module")
def relay_events() -> list[dict[str, Any]]:
    return []


@pytest.fixture(scope="module")
def om_emu(receiver: Receiver, relay_events: list[dict[str, Any]]) -> Iterator[RunningEmulator]:
    config = EmulatorConfig(
        port=0,
        outbound_messages=[
            OutboundMessageConfig(
                sobject="Account",
                fields=["Id", "Name", "Phone", "Industry", "CreatedDate", "LastModifiedDate", "SystemModstamp"],
                endpoint_url=receiver.url,
            )
        ],
        outbound_retry_initial_seconds=0.05,
        outbound_retry_max_seconds=0.2,
        cdc_sink=relay_events.append,
        cdc_objects=["Account", "Contact", "Case"],
    )
    emulator = start_emulator(config)
    yield emulator
    emulator.stop()


@pytest.fixture
def om(om_emu: RunningEmulator, receiver: Receiver, relay_events: list[dict[str, Any]]) -> RunningEmulator:
    om_emu.reset()
    receiver.script.clear()
    receiver.down = False
    receiver.bodies.clear()
    relay_events.clear()
    return om_emu


def notifications(body: bytes) -> list[dict[str, str]]:
    root = ElementTree.fromstring(body)
    out = []
    for note in root.iter(f"{{{OM_NS}}}Notification"):
        sobject = note.find(f"{{{OM_NS}}}sObject")
        fields = {child.tag.split("}")[1]: child.text for child in sobject}
        out.append({"NotificationId": note.find(f"{{{OM_NS}}}Id").text, **fields})
    return out


def test_soap_envelope_matches_salesforce(om, receiver):
    http = session_for(om, om.issue_token())
    created = http.post(f"{om.url}/services/data/{API}/sobjects/Account", json={"Name": "Acme & Co", "Phone": None})
    record_id = created.json()["id"]
    wait_until(om.outbound_deliveries)
    body = receiver.bodies[0]
    assert receiver.headers[0]["Content-Type"] == "text/xml; charset=UTF-8"
    assert receiver.headers[0]["SOAPAction"] == '""'
    root = ElementTree.fromstring(body)
    assert root.tag == f"{{{SOAP_NS}}}Envelope"
    message = root.find(f"{{{SOAP_NS}}}Body/{{{OM_NS}}}notifications")
    children = [child.tag.split("}")[1] for child in message]
    assert children == ["OrganizationId", "ActionId", "SessionId", "EnterpriseUrl", "PartnerUrl", "Notification"]
    assert message.find(f"{{{OM_NS}}}OrganizationId").text == "00D000000000001AAA"
    assert message.find(f"{{{OM_NS}}}ActionId").text == "04k000000000001AAA"
    assert message.find(f"{{{OM_NS}}}SessionId").get(f"{{{XSI_NS}}}nil") == "true"
    assert message.find(f"{{{OM_NS}}}EnterpriseUrl").text == f"{om.url}/services/Soap/c/64.0/00D000000000001"
    assert message.find(f"{{{OM_NS}}}PartnerUrl").text == f"{om.url}/services/Soap/u/64.0/00D000000000001"
    sobject = message.find(f"{{{OM_NS}}}Notification/{{{OM_NS}}}sObject")
    assert sobject.get(f"{{{XSI_NS}}}type") == "sf:Account"
    names = [child.tag for child in sobject]
    assert all(n.startswith(f"{{{SF_NS}}}") for n in names)
    # sf:Id first, the rest alphabetical, null fields (Phone, Industry) omitted
    assert [n.split("}")[1] for n in names] == ["Id", "CreatedDate", "LastModifiedDate", "Name", "SystemModstamp"]
    note = notifications(body)[0]
    assert note["Id"] == record_id and note["Name"] == "Acme & Co"
    assert note["NotificationId"].startswith("04l") and len(note["NotificationId"]) == 18
    assert note["CreatedDate"].endswith(".000Z")
    assert b'<SessionId xsi:nil="true"/>' in body


def test_a_value_with_control_characters_still_makes_well_formed_xml(om, receiver):
    """XML 1.0 cannot carry most control characters even as references: they are left out, the rest kept."""
    om.user_change("create", "Account", fields={"Name": "Tab\tBell\x07Vertical\x0bTab & <Co>\x1f"})
    wait_until(om.outbound_deliveries)
    [note] = notifications(receiver.bodies[0])  # parses: the envelope is well-formed
    assert note["Name"] == "Tab\tBellVerticalTab & <Co>"
    assert [d["ack"] for d in om.outbound_deliveries()] == [True]


def test_retries_until_ack_and_records_every_attempt(om, receiver):
    receiver.script.extend([(500, b"boom"), (200, NACK), (200, b"not xml")])
    om.user_change("create", "Account", fields={"Name": "Retry Ltd"})
    deliveries = wait_until(lambda: [d for d in om.outbound_deliveries() if d["ack"]] and om.outbound_deliveries())
    assert [(d["status"], d["ack"]) for d in deliveries] == [(500, False), (200, False), (200, False), (200, True)]
    assert deliveries[1]["error"] == "SOAP response was a nack"
    assert [d["retry"] for d in deliveries] == [False, True, True, True]
    assert len({tuple(d["notification_ids"]) for d in deliveries}) == 1
    assert om.outbound_pending() == []


def test_batches_up_to_100_and_never_on_delete(om, receiver):
    http = session_for(om, om.issue_token())
    records = [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(150)]
    http.post(f"{om.url}/services/data/{API}/composite/sobjects", json={"records": records})
    wait_until(lambda: not om.outbound_pending() and om.outbound_deliveries(), timeout=10)
    delivered = [d for d in om.outbound_deliveries() if d["ack"]]
    assert all(len(d["notification_ids"]) <= 100 for d in om.outbound_deliveries())
    assert sum(len(d["record_ids"]) for d in delivered) == 150
    assert sorted(len(d["notification_ids"]) for d in delivered) == [50, 100]
    before = len(om.outbound_deliveries())
    victim = om.records("Account")[0]["Id"]
    http.delete(f"{om.url}/services/data/{API}/sobjects/Account/{victim}")
    http.post(f"{om.url}/services/data/{API}/sobjects/Contact", json={"LastName": "Not configured"})
    wait_until(lambda: len(relay_events_of(om)) >= 1)
    assert len(om.outbound_deliveries()) == before


def relay_events_of(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return [e for e in emulator.cdc_events() if e["detail"]["payload"]["ChangeEventHeader"]["changeType"] == "DELETE"]


def test_cdc_create_update_delete_undelete(om, relay_events):
    http = session_for(om, om.issue_token())
    http.headers["Sforce-Call-Options"] = "client=hub-sync"
    base = f"{om.url}/services/data/{API}"
    record_id = http.post(
        f"{base}/sobjects/Contact", json={"FirstName": "Ada", "LastName": "Lovelace", "MailingCity": "London"}
    ).json()["id"]
    http.patch(f"{base}/sobjects/Contact/{record_id}", json={"LastName": "King", "MailingCity": None})
    http.delete(f"{base}/sobjects/Contact/{record_id}")
    om.user_change("undelete", "Contact", record_id)
    events = wait_until(lambda: relay_events if len(relay_events) >= 4 else None)
    create, update, delete, undelete = events
    assert create["source"] == "aws.partner/salesforce.com/00D000000000001AAA/0YL000000000001GAA"
    assert create["detail-type"] == "ContactChangeEvent"
    assert set(create) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert create["detail"]["schemaId"] == schema_id("Contact")
    header = create["detail"]["payload"]["ChangeEventHeader"]
    assert header["changeType"] == "CREATE" and header["recordIds"] == [record_id]
    assert header["changeOrigin"] == "com/salesforce/api/rest/60.0;client=hub-sync"
    assert header["commitUser"] == "005000000000001AAA"
    assert isinstance(header["commitTimestamp"], int) and isinstance(header["commitNumber"], int)
    # Commits are stamped in milliseconds and each later than the last, even within one second: the order of
    # one record's changes survives a reordered delivery (SystemModstamp's whole seconds would tie them).
    stamps = [event["detail"]["payload"]["ChangeEventHeader"]["commitTimestamp"] for event in events]
    numbers = [event["detail"]["payload"]["ChangeEventHeader"]["commitNumber"] for event in events]
    assert stamps == sorted(set(stamps)) and numbers == sorted(set(numbers)), (stamps, numbers)
    assert header["sequenceNumber"] == 1 and header["changedFields"] == []
    payload = create["detail"]["payload"]
    assert payload["Name"] == {"FirstName": "Ada", "LastName": "Lovelace"}  # empty Salutation left out
    assert "Phone" not in payload and "Description" not in payload  # CREATE: non-empty fields only
    assert payload["MailingAddress"]["City"] == "London"
    assert isinstance(payload["CreatedDate"], int)
    for event in events:
        assert "SystemModstamp" not in event["detail"]["payload"]
        assert "IsDeleted" not in event["detail"]["payload"]

    update_header = update["detail"]["payload"]["ChangeEventHeader"]
    assert update_header["changeType"] == "UPDATE"
    assert set(update_header["changedFields"]) == {"Name.LastName", "MailingAddress.City", "LastModifiedDate"}
    assert update_header["nulledFields"] == ["MailingAddress.City"]
    # UPDATE: the changed fields only (set to null: present with null), unchanged ones absent
    assert update["detail"]["payload"]["Name"] == {"LastName": "King"}
    assert update["detail"]["payload"]["MailingAddress"] == {"City": None}
    assert set(update["detail"]["payload"]) == {"ChangeEventHeader", "Name", "MailingAddress", "LastModifiedDate"}
    assert update_header["transactionKey"] != header["transactionKey"]

    assert delete["detail"]["payload"]["ChangeEventHeader"]["changeType"] == "DELETE"
    assert set(delete["detail"]["payload"]) == {"ChangeEventHeader"}  # DELETE: no fields
    undelete_header = undelete["detail"]["payload"]["ChangeEventHeader"]
    assert undelete_header["changeType"] == "UNDELETE"
    assert undelete_header["changeOrigin"] == "com/salesforce/api/soap/64.0;client=SfdcInternalAPI/"  # the UI
    assert undelete_header["commitUser"] == "005000000000002AAA"
    assert undelete["detail"]["payload"]["Name"]["LastName"] == "King"


def test_cdc_merges_identical_changes_and_filters_objects(om, relay_events):
    http = session_for(om, om.issue_token())
    base = f"{om.url}/services/data/{API}"
    ids = om.seed("Case", [{"Subject": "a"}, {"Subject": "b"}])
    http.delete(f"{base}/composite/sobjects", params={"ids": ",".join(ids)})
    http.post(f"{base}/sobjects/Lead", json={"LastName": "x", "Company": "y"})  # not in cdc_objects
    http.post(f"{base}/sobjects/Account", json={"Name": "marker"})
    events = wait_until(lambda: relay_events if len(relay_events) >= 2 else None)
    header = events[0]["detail"]["payload"]["ChangeEventHeader"]
    assert header["changeType"] == "DELETE" and header["recordIds"] == ids
    assert header["changeOrigin"] == "com/salesforce/api/rest/60.0"
    assert [e["detail-type"] for e in events] == ["CaseChangeEvent", "AccountChangeEvent"]


def test_cdc_gap_events(om, relay_events):
    gap = om.emit_gap("Account", "GAP_UPDATE", ["001Hb0000000001IAA"])
    overflow = om.emit_gap("Account", "GAP_OVERFLOW", ["001Hb0000000001IAA"])
    assert gap["detail"]["payload"]["ChangeEventHeader"]["recordIds"] == ["001Hb0000000001IAA"]
    assert overflow["detail"]["payload"]["ChangeEventHeader"]["recordIds"] == []
    assert set(gap["detail"]["payload"]) == {"ChangeEventHeader"}
    wait_until(lambda: len(relay_events) >= 2)


def test_outbound_control_endpoint(om, receiver):
    om.user_change("create", "Account", fields={"Name": "Control"})
    wait_until(om.outbound_deliveries)
    snapshot = session_for(om).get(f"{om.url}/__emulator/outbound").json()
    assert snapshot["deliveries"][0]["ack"] is True
    assert snapshot["pending"] == []


# ------------------------------------------------------------------ acknowledgement (issue 14, point 6)
# Salesforce's outbound-message WSDL (API guide, "Outbound Messaging WSDL",
# developer.salesforce.com/docs/platform/api/guide/sforce-api-om-outboundmessaging-wsdl.html): the listener
# answers the SOAP `notificationsResponse` (namespace http://soap.sforce.com/2005/09/outbound) with `Ack` true;
# anything else is a failed delivery that Salesforce retries (research/salesforce-facts.md §a).

PREFIXED_ACK = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    b'<out:notificationsResponse xmlns:out="http://soap.sforce.com/2005/09/outbound"><out:Ack>1</out:Ack>'
    b"</out:notificationsResponse></soapenv:Body></soapenv:Envelope>"
)
NOT_ACKS = {
    "plain text": b"Ack true",
    "a bare Ack element": b"<Ack>true</Ack>",
    "HTML": b"<html><body><p>OK</p><Ack>true</Ack></body></html>",
    "another element": ACK.replace(b"notificationsResponse", b"notificationsResult"),
    "another namespace": ACK.replace(b"http://soap.sforce.com/2005/09/outbound", b"urn:example"),
    "Ack outside the namespace": ACK.replace(b"<Ack>true</Ack>", b'<Ack xmlns="">true</Ack>'),
    "no SOAP envelope": ACK.replace(b"http://schemas.xmlsoap.org/soap/envelope/", b"urn:not-soap"),
    "Ack false": NACK,
    "empty": b"",
}


@pytest.mark.parametrize("body", list(NOT_ACKS.values()), ids=list(NOT_ACKS))
def test_only_a_notifications_response_with_ack_true_acknowledges(body):
    assert ack_failure(body) is not None
    assert ack_failure(ACK) is None and ack_failure(PREFIXED_ACK) is None  # any prefix, xsd:boolean "1"


def test_a_200_without_a_proper_ack_is_retried(om, receiver):
    receiver.script.extend([(200, NOT_ACKS["HTML"]), (200, NOT_ACKS["another element"]), (200, NOT_ACKS["plain text"])])
    om.user_change("create", "Account", fields={"Name": "Strict Ack AS"})
    deliveries = wait_until(lambda: [d for d in om.outbound_deliveries() if d["ack"]] and om.outbound_deliveries())
    assert [(d["status"], d["ack"]) for d in deliveries] == [(200, False), (200, False), (200, False), (200, True)]
    assert deliveries[1]["error"].startswith("SOAP response has no")
    assert deliveries[2]["error"] == "org.xml.sax.SAXParseException: Content is not allowed in prolog."
    assert len({tuple(d["notification_ids"]) for d in deliveries}) == 1  # the same notification each time


def test_the_hub_webhooks_ack_is_an_ack_to_salesforce():
    from sync_core.domain.sync.outbound import ack_response

    assert ack_failure(ack_response().encode()) is None


# ------------------------------------------------------------------ batching (issue 14, point 7)
# SOAP API guide, "Outbound Messaging" / "Understanding Notifications"
# (developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_om_outboundmessaging_notifications.htm):
# "A single SOAP message can include up to 100 notifications"; separate changes may share a message, and a
# message belongs to one outbound message definition (one ActionId, one object).


def test_a_backlog_is_delivered_in_few_messages_of_up_to_100_per_definition(receiver):
    definitions = [
        OutboundMessageConfig(sobject="Account", fields=["Id", "Name"], endpoint_url=receiver.url),
        OutboundMessageConfig(
            sobject="Contact", fields=["Id", "LastName"], endpoint_url=receiver.url, action_id="04k000000000002AAA"
        ),
    ]
    config = EmulatorConfig(
        port=0, outbound_messages=definitions, outbound_retry_initial_seconds=0.02, outbound_retry_max_seconds=0.1
    )
    receiver.down = True
    try:
        with start_emulator(config) as emu:
            for n in range(130):  # separate changes, each its own transaction, while the endpoint is down
                emu.user_change("create", "Account", fields={"Name": f"Backlog {n}"})
            for n in range(120):
                emu.user_change("create", "Contact", fields={"LastName": f"Backlog {n}"})
            # every notification has failed at least once: the backlog is queued for retry
            wait_until(lambda: all(n["attempts"] and not n["in_flight"] for n in emu.outbound_pending()))
            receiver.down = False
            wait_until(lambda: not emu.outbound_pending(), timeout=15, message="the backlog delivered")
            acked = [d for d in emu.outbound_deliveries() if d["ack"]]
    finally:
        receiver.down = False
    by_action: dict[str, list[int]] = {}
    for delivery in acked:
        by_action.setdefault(delivery["action_id"], []).append(len(delivery["notification_ids"]))
        sobjects = ElementTree.fromstring(delivery["body"]).iter(f"{{{OM_NS}}}sObject")
        assert len({note.get(f"{{{XSI_NS}}}type") for note in sobjects}) == 1  # one message, one definition
    assert sorted(by_action["04k000000000001AAA"]) == [30, 100]
    assert sorted(by_action["04k000000000002AAA"]) == [20, 100]
    assert sum(len(set(d["record_ids"])) for d in acked) == 250
