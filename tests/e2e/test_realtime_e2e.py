"""Real time from Salesforce on the local stack, as `make run` starts it: a change a Salesforce user makes in
the emulator reaches the hub record through the outbound-message webhook (the emulator's outbound messages
point at it, with its token); redeliveries, late deliveries, strangers and hostile XML change nothing."""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests

from tests.e2e.conftest import RunningLocalStack
from tests.e2e.test_sync_e2e import _api, _emulator, _sync_status, _wait

OM_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def _health(stack: RunningLocalStack) -> dict[str, str]:
    return dict(_api(stack, "GET", "/__local/health").json())


def _salesforce_change(stack: RunningLocalStack, op: str, sobject: str, **body: Any) -> str:
    """A change by a Salesforce user in Lightning (not the hub): it fires outbound messages and change events."""
    answer = _emulator(stack, "/changes", "POST", {"op": op, "sobject": sobject, **body})
    return str(answer.get("id") or body.get("id"))


def _hub_records(stack: RunningLocalStack, entity: str, salesforce_id: str) -> list[dict[str, Any]]:
    found = requests.get(
        f"{stack.api_url}/records/{entity}", params={"salesforce_id": salesforce_id}, timeout=10
    ).json()
    return list(found["items"])


def _settled(stack: RunningLocalStack) -> None:
    """The sync queue is empty and nothing is in flight: every queued change has been applied."""

    def idle() -> bool:
        depth = _api(stack, "GET", "/__local/queues").json()["SyncQueue"]
        return depth["visible"] == 0 and depth["in_flight"] == 0

    _wait(stack, idle, "the sync queue drained")


def _deliveries(stack: RunningLocalStack, salesforce_id: str) -> list[dict[str, Any]]:
    return [d for d in _emulator(stack, "/outbound")["deliveries"] if salesforce_id in d["record_ids"] and d["ack"]]


def _post(stack: RunningLocalStack, body: str, *, token: str | None = None) -> requests.Response:
    url = _health(stack)["salesforce_webhook"]
    if token is not None:
        url = url.rsplit("/", 1)[0] + "/" + token
    return requests.post(url, data=body.encode(), headers={"Content-Type": "text/xml; charset=UTF-8"}, timeout=10)


def test_a_salesforce_edit_reaches_the_hub_record_once_through_the_webhook(local_stack: RunningLocalStack) -> None:
    name = f"Outbound {uuid.uuid4().hex[:8]} AS"
    salesforce_id = _salesforce_change(local_stack, "create", "Account", fields={"Name": name, "Phone": "+47 555"})
    [record] = _wait(
        local_stack,
        lambda: (found := _hub_records(local_stack, "Account", salesforce_id)) and found,
        "the hub record made from the outbound message",
    )
    assert (record["fields"]["name"], record["fields"]["phone"]) == (name, "+47 555")
    status = _sync_status(local_stack, "Account", record["id"])
    assert (status["status"], status["external_ref"]) == ("Synchronized", salesforce_id)
    assert _deliveries(local_stack, salesforce_id)  # it came as an outbound message, acknowledged

    # Phone cleared in Salesforce: the outbound message leaves it out; the entity's field list says it is null.
    # SystemModstamp has a resolution of one second: two states within one second carry the same stamp, and
    # no receiver can order them (README, Real time from Salesforce). The edit is made in a later second.
    _next_second()
    _salesforce_change(local_stack, "update", "Account", id=salesforce_id, fields={"Phone": None, "Name": name + "!"})
    _wait(
        local_stack,
        lambda: [r for r in _hub_records(local_stack, "Account", salesforce_id) if r["fields"]["name"] == name + "!"],
        "the update",
    )
    [updated] = _hub_records(local_stack, "Account", salesforce_id)
    assert updated["fields"].get("phone") is None
    assert updated["id"] == record["id"]

    # A redelivery of the first message, late and out of order: acknowledged, and the record stays as it is.
    _settled(local_stack)
    first = _deliveries(local_stack, salesforce_id)[0]
    assert _post(local_stack, first["body"]).status_code == 200
    assert _post(local_stack, first["body"]).status_code == 200
    _settled(local_stack)
    [after] = _hub_records(local_stack, "Account", salesforce_id)
    assert (after["version"], after["fields"]["name"]) == (updated["version"], name + "!")


def _next_second() -> None:
    started = int(time.time())
    while int(time.time()) == started:
        time.sleep(0.05)


def _stranger_message(stack: RunningLocalStack, org_id: str, salesforce_id: str) -> str:
    """A well-formed outbound message for a record the hub has never seen."""
    return (
        f"{OM_DECLARATION}"
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>04k000000000009AAA</ActionId>"
        '<SessionId xsi:nil="true"/><Notification><Id>04l0000000000ZZAAA</Id>'
        '<sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>{salesforce_id}</sf:Id><sf:Name>Stranger Ltd</sf:Name>"
        "<sf:SystemModstamp>2026-01-01T00:00:00.000Z</sf:SystemModstamp>"
        "</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"
    )


def test_a_wrong_org_or_token_gets_403_and_hostile_xml_400_and_nothing_is_queued(
    local_stack: RunningLocalStack,
) -> None:
    allowed = _health(local_stack)["salesforce_org_id"]  # HUB_SALESFORCE_ORG_ID's default: the emulator's org
    stranger = "001Hb00000ZZZZZIAA"
    wrong_org = _post(local_stack, _stranger_message(local_stack, "00D9z000000ZzZzEAK", stranger))
    assert wrong_org.status_code == 403 and "<faultstring>forbidden</faultstring>" in wrong_org.text
    wrong_token = _post(local_stack, _stranger_message(local_stack, allowed, stranger), token="guess")
    assert wrong_token.status_code == 403
    for doctype in (
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        "<!DOCTYPE x [" + "".join(f'<!ENTITY e{n} "{f"&e{n - 1};" * 10}">' for n in range(1, 10)) + "]>",
    ):
        hostile = _stranger_message(local_stack, allowed, stranger)
        answer = _post(local_stack, hostile.replace(OM_DECLARATION, OM_DECLARATION + doctype))
        assert answer.status_code == 400 and "DTDForbidden" in answer.text
    _settled(local_stack)
    assert _hub_records(local_stack, "Account", stranger) == []
