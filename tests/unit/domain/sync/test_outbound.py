"""Outbound messages read safely (defusedxml, a size limit) and turned into the engine's changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.sf_emulator.outbound import ack_failure
from sync_core.domain.entities import EntityName
from sync_core.domain.sync.changes import ChangeDirection, ChangeOperation, ChangeSource
from sync_core.domain.sync.outbound import (
    MAX_BODY_BYTES,
    MAX_NOTIFICATIONS,
    OutboundMessageError,
    ack_response,
    fault_response,
    notification_change,
    parse_outbound_message,
)
from tests.conftest import load_event

SAMPLE = load_event("salesforce_outbound_message")["body"].encode()
RECEIVED = datetime(2026, 9, 9, 19, 5, tzinfo=UTC)
FIELDS = ["Id", "Name", "Industry", "Phone", "CreatedDate", "LastModifiedDate", "SystemModstamp"]


def envelope(*notifications: str, org: str = "00D5e000002XzQkEAK", prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k5e000000KzVnAAK</ActionId>"
        '<SessionId xsi:nil="true"/>' + "".join(notifications) + "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def notification(fields: str, *, number: int = 1, sobject: str = "sf:Contact") -> str:
    return (
        f"<Notification><Id>04l5e00000Ib3Q{number:04d}</Id>"
        f'<sObject xsi:type="{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>0035e00000Ab{number:06d}</sf:Id>{fields}</sObject></Notification>"
    )


def test_the_sample_message_reads_as_salesforce_sent_it() -> None:
    message = parse_outbound_message(SAMPLE)
    assert (message.organization_id, message.action_id) == ("00D5e000002XzQkEAK", "04k5e000000KzVnAAK")
    first, second = message.notifications
    assert (first.id, first.sobject, first.record_id) == ("04l5e00000Ib3QsAAJ", "Account", "0015e00000MbQ9rAAF")
    assert first.values["Name"] == "Van Dijk Logistics B.V."
    assert "Id" not in first.values
    assert "Phone" not in second.values and not second.nulled


def test_a_configured_field_that_is_not_sent_is_cleared_and_one_outside_the_list_is_left_alone() -> None:
    second = parse_outbound_message(SAMPLE).notifications[1]
    change = notification_change(second, EntityName.ACCOUNT, configured_fields=FIELDS, received_at=RECEIVED)
    assert change.cleared_fields == ["Industry", "Phone"]
    assert change.values["Name"] == "Kowalski Trading"
    assert (change.direction, change.operation, change.source) == (
        ChangeDirection.FROM_SALESFORCE,
        ChangeOperation.UPSERT,
        ChangeSource.OUTBOUND_MESSAGE,
    )
    assert change.change_id == second.id and change.salesforce_id == "0015e00000MbQ9sAAF"
    # Without a configured list only what the message says is taken: nothing is cleared.
    unlisted = notification_change(second, EntityName.ACCOUNT, configured_fields=None, received_at=RECEIVED)
    assert unlisted.cleared_fields == []


def test_a_field_sent_as_xsi_nil_or_empty_is_cleared_and_names_match_the_list_whatever_their_case() -> None:
    body = envelope(notification('<sf:Email xsi:nil="true"/><sf:Phone></sf:Phone><sf:LastName>Nil</sf:LastName>'))
    [item] = parse_outbound_message(body).notifications
    change = notification_change(
        item, EntityName.CONTACT, configured_fields=["lastname", "Email", "Phone"], received_at=RECEIVED
    )
    assert change.cleared_fields == ["Email", "Phone"]
    assert change.values == {"LastName": "Nil"}


def test_the_stamp_is_system_modstamp_then_last_modified_date_then_the_time_received() -> None:
    both = "<sf:LastModifiedDate>2026-09-09T19:00:00.000Z</sf:LastModifiedDate>"
    both += "<sf:SystemModstamp>2026-09-09T19:00:05.000Z</sf:SystemModstamp>"
    cases = [
        (both, datetime(2026, 9, 9, 19, 0, 5, tzinfo=UTC)),
        ("<sf:LastModifiedDate>2026-09-09T19:00:00.000Z</sf:LastModifiedDate>", datetime(2026, 9, 9, 19, tzinfo=UTC)),
        ("<sf:LastName>No stamp</sf:LastName>", RECEIVED),
    ]
    for fields, stamp in cases:
        [item] = parse_outbound_message(envelope(notification(fields))).notifications
        change = notification_change(item, EntityName.CONTACT, configured_fields=None, received_at=RECEIVED)
        assert change.stamp == stamp


def test_a_stamp_that_is_no_datetime_is_an_error() -> None:
    [item] = parse_outbound_message(envelope(notification("<sf:SystemModstamp>soon</sf:SystemModstamp>"))).notifications
    with pytest.raises(OutboundMessageError, match="SystemModstamp 'soon' is no datetime"):
        notification_change(item, EntityName.CONTACT, configured_fields=None, received_at=RECEIVED)


@pytest.mark.parametrize(
    ("prolog", "refusal"),
    [
        ('<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "DTDForbidden"),
        ('<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>', "DTDForbidden"),
        ('<!DOCTYPE x SYSTEM "http://attacker.example/x.dtd">', "DTDForbidden"),
    ],
)
def test_a_dtd_external_entity_or_entity_expansion_is_refused_before_anything_is_expanded(
    prolog: str, refusal: str
) -> None:
    body = envelope(notification("<sf:LastName>&b;</sf:LastName>"), prolog=prolog)
    with pytest.raises(OutboundMessageError, match=refusal):
        parse_outbound_message(body)


def test_a_billion_laughs_bomb_is_refused_without_being_expanded() -> None:
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
    body = envelope(notification("<sf:LastName>&lol9;</sf:LastName>"), prolog=f"<!DOCTYPE lolz [{entities}]>")
    with pytest.raises(OutboundMessageError, match="DTDForbidden"):
        parse_outbound_message(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not well-formed XML"),
        (b"<notifications/>", "not a SOAP 1.1 envelope"),
        (b"x" * (MAX_BODY_BYTES + 1), "larger than"),
        (envelope(), "holds no Notification"),
        (envelope(org=""), "has no OrganizationId"),
        (envelope(notification("", sobject="")), "names no object"),
        (envelope(notification("<sf:Bad>1</sf:Bad>").replace("<sf:Id>0035e00000Ab000001</sf:Id>", "")), "no valid"),
        (envelope(*(notification("", number=n) for n in range(MAX_NOTIFICATIONS + 1))), "at most 100"),
    ],
)
def test_what_is_not_an_outbound_message_says_why(body: bytes, message: str) -> None:
    with pytest.raises(OutboundMessageError, match=message):
        parse_outbound_message(body)


def test_the_ack_is_what_salesforce_takes_as_delivered_and_a_fault_is_not() -> None:
    assert ack_failure(ack_response().encode()) is None
    assert ack_failure(fault_response("no <such> & thing").encode()) is not None
    assert "<faultcode>soapenv:Server</faultcode>" in fault_response("queue down", sender=False)
    assert "no &lt;such&gt; &amp; thing" in fault_response("no <such> & thing")
