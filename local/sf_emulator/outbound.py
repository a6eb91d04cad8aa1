"""Outbound Messaging: SOAP `notifications` to configured endpoints, batched (≤100), retried with back-off until a
SOAP `notificationsResponse` acknowledges them."""

from __future__ import annotations

import random
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from defusedxml import ElementTree

from . import values
from .config import OutboundMessageConfig
from .ids import IdFactory
from .org import Org
from .store import Change

MAX_NOTIFICATIONS = 100
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class Notification:
    id: str
    config_index: int
    sobject: str
    record_id: str
    queued_at: float
    next_at: float
    attempts: int = 0
    in_flight: bool = False


@dataclass
class Delivery:
    attempt: int
    time: str
    endpoint: str
    action_id: str
    sobject: str
    notification_ids: list[str]
    record_ids: list[str]
    retry: bool
    status: int | None = None
    ack: bool = False
    error: str | None = None
    body: str = ""
    response: str = ""
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class OutboundState:
    pending: list[Notification] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)


# Characters XML 1.0 cannot carry at all, not even as a character reference (a control character pasted into
# a text field, say). Salesforce's own SOAP stack (wsc, the Data Loader's) removes them from what it sends
# rather than send a document no parser accepts; the emulator does the same (UNVERIFIED against a real
# outbound message: research/salesforce-facts.md has no capture with one).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """A field's text as the envelope carries it: escaped, without the characters XML 1.0 cannot hold."""
    return escape(_NOT_XML.sub("", value))


def soap_envelope(
    org: Org, config: OutboundMessageConfig, items: list[tuple[str, dict[str, Any]]], session_id: str | None
) -> str:
    """The notifications envelope exactly as Salesforce sends it (null fields omitted, sf:Id first)."""
    host = org.base_url.split("://", 1)[-1]
    version = org.config.latest_api_version
    org15 = org.config.org_id[:15]
    obj = org.schemas[config.sobject.lower()]
    names = []
    for name in config.fields:
        fdef = obj.field(name)
        if fdef is not None and fdef.name != "Id" and fdef.name not in names:
            names.append(fdef.name)
    names.sort()
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        " <soapenv:Body>",
        f'  <notifications xmlns="{OUTBOUND_NS}">',
        f"   <OrganizationId>{escape(org.config.org_id)}</OrganizationId>",
        f"   <ActionId>{escape(config.action_id)}</ActionId>",
        f"   <SessionId>{escape(session_id)}</SessionId>" if session_id else '   <SessionId xsi:nil="true"/>',
        f"   <EnterpriseUrl>https://{host}/services/Soap/c/{version}/{org15}</EnterpriseUrl>",
        f"   <PartnerUrl>https://{host}/services/Soap/u/{version}/{org15}</PartnerUrl>",
    ]
    for notification_id, record in items:
        lines.append("   <Notification>")
        lines.append(f"    <Id>{notification_id}</Id>")
        lines.append(f'    <sObject xsi:type="sf:{obj.name}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">')
        lines.append(f"     <sf:Id>{record['Id']}</sf:Id>")
        for name in names:
            value = record.get(name)
            if value is None:
                continue
            lines.append(f"     <sf:{name}>{xml_text(values.to_text(value))}</sf:{name}>")
        lines.append("    </sObject>")
        lines.append("   </Notification>")
    lines += ["  </notifications>", " </soapenv:Body>", "</soapenv:Envelope>"]
    return "\n".join(lines)


def ack_failure(body: bytes) -> str | None:
    """Why an HTTP 200 answer is not an acknowledgement, or None when it is one.

    Salesforce accepts only the SOAP 1.1 `notificationsResponse` of the outbound-message WSDL (namespace
    http://soap.sforce.com/2005/09/outbound, element form qualified) whose `Ack` (xsd:boolean) is true;
    anything else is a failed delivery it retries (API guide, "Outbound Messaging WSDL" /
    sforce_api_om_outboundmessaging_wsdl; research/salesforce-facts.md §a).
    """
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return "org.xml.sax.SAXParseException: Premature end of file."
    if not text.startswith(b"<"):
        return "org.xml.sax.SAXParseException: Content is not allowed in prolog."
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # any parse failure is a failed delivery, as Salesforce records it
        return f"org.xml.sax.SAXParseException: {exc}"
    soap_body = root.find(f"{{{SOAP_ENV_NS}}}Body") if root.tag == f"{{{SOAP_ENV_NS}}}Envelope" else None
    if soap_body is None:
        return "response is not a SOAP 1.1 envelope"
    response = soap_body.find(f"{{{OUTBOUND_NS}}}notificationsResponse")
    ack = response.find(f"{{{OUTBOUND_NS}}}Ack") if response is not None else None
    if ack is None:
        return f"SOAP response has no {{{OUTBOUND_NS}}}notificationsResponse/Ack"
    if (ack.text or "").strip() not in ("true", "1"):  # xsd:boolean's lexical forms of true
        return "SOAP response was a nack"
    return None


class OutboundSender:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.configs = list(org.config.outbound_messages)
        self.state = OutboundState()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.ids = IdFactory(pod="Om")
        self.rng = random.Random(org.config.random_seed)
        self.attempt_seq = 0
        self.thread: threading.Thread | None = None

    # ----- producer side -----
    def on_changes(self, changes: list[Change]) -> None:
        if not self.configs:
            return
        now = time.time()
        with self.lock:
            for change in changes:
                if change.kind not in ("CREATE", "UPDATE"):
                    continue
                for index, config in enumerate(self.configs):
                    if config.sobject.lower() != change.sobject.lower():
                        continue
                    if config.exclude_user_id and change.user_id[:15] == config.exclude_user_id[:15]:
                        continue
                    if any(
                        n.config_index == index
                        and n.record_id == change.record_id
                        and not n.in_flight
                        and n.attempts == 0
                        for n in self.state.pending
                    ):
                        continue  # collapsed: the pending notification will carry the latest state
                    self.state.pending.append(
                        Notification(
                            id=self.ids.new("04l"),
                            config_index=index,
                            sobject=change.sobject,
                            record_id=change.record_id,
                            queued_at=now,
                            next_at=now,
                        )
                    )
        self.wake.set()

    # ----- sender thread -----
    def start(self) -> None:
        if not self.configs or self.thread is not None:
            return
        self.thread = threading.Thread(target=self._run, name="sf-emulator-outbound", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(self.org.config.outbound_poll_seconds)
            self.wake.clear()
            for batch in self._due_batches():
                if self.stopping.is_set():
                    return
                self._send(batch)

    def _due_batches(self) -> list[list[Notification]]:
        now = time.time()
        batches: list[list[Notification]] = []
        with self.lock:
            expired = [
                n
                for n in self.state.pending
                if not n.in_flight and now - n.queued_at > self.org.config.outbound_max_age_seconds
            ]
            for n in expired:
                self.state.pending.remove(n)
                self.state.dropped.append(
                    {
                        "notification_id": n.id,
                        "record_id": n.record_id,
                        "reason": "older than 24 hours",
                        "attempts": n.attempts,
                    }
                )
            for index in range(len(self.configs)):
                # One message = one outbound message definition (one ActionId, one object), so one endpoint.
                waiting = [n for n in self.state.pending if n.config_index == index and not n.in_flight]
                due = sorted((n for n in waiting if n.next_at <= now), key=lambda n: n.next_at)
                if not due:
                    continue
                # Salesforce puts separate changes into one message (up to 100), notably a backlog once the
                # endpoint is back: a retry fills its last message with the other queued notifications of the
                # definition, oldest first, whose own retry time has not come yet. (Only retries do: fresh
                # changes do not drag a failing backlog along at every new change.)
                queue = due
                if any(n.attempts for n in due):
                    later = sorted((n for n in waiting if n.next_at > now), key=lambda n: n.queued_at)
                    queue = due + later[: -len(due) % MAX_NOTIFICATIONS]
                for start in range(0, len(queue), MAX_NOTIFICATIONS):
                    chunk = queue[start : start + MAX_NOTIFICATIONS]
                    for n in chunk:
                        n.in_flight = True
                    batches.append(chunk)
        return batches

    def _send(self, batch: list[Notification]) -> None:
        config = self.configs[batch[0].config_index]
        obj = self.org.schemas[config.sobject.lower()]
        items: list[tuple[str, dict[str, Any]]] = []
        gone: list[Notification] = []
        for n in batch:
            record = self.org.store.get(obj, n.record_id)
            if record is None or record["IsDeleted"]:
                gone.append(n)
            else:
                items.append((n.id, record))
        if gone:
            with self.lock:
                for n in gone:
                    self.state.pending.remove(n)
                    self.state.dropped.append(
                        {
                            "notification_id": n.id,
                            "record_id": n.record_id,
                            "reason": "record deleted",
                            "attempts": n.attempts,
                        }
                    )
        live = [n for n in batch if n not in gone]
        if not live:
            return
        session_id = self.org.sessions.issue(config.user_id).token if config.send_session_id else None
        body = soap_envelope(self.org, config, items, session_id)
        with self.lock:
            self.attempt_seq += 1
            delivery = Delivery(
                attempt=self.attempt_seq,
                time=values.format_datetime_z(self.org.clock.now_precise()),
                endpoint=config.endpoint_url,
                action_id=config.action_id,
                sobject=obj.name,
                notification_ids=[n.id for n in live],
                record_ids=[n.record_id for n in live],
                retry=any(n.attempts for n in live),
                body=body,
            )
        try:
            request = urllib.request.Request(
                config.endpoint_url,
                data=body.encode(),
                method="POST",
                headers={
                    "Content-Type": "text/xml; charset=UTF-8",
                    "SOAPAction": '""',
                    "User-Agent": "Salesforce (emulator)",
                },
            )
            with urllib.request.urlopen(request, timeout=self.org.config.outbound_timeout_seconds) as response:
                raw = response.read()
                delivery.status = response.status
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            delivery.status = exc.code
            delivery.error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            raw = b""
            delivery.error = f"{type(exc).__name__}: {exc}"
        delivery.response = raw.decode("utf-8", "replace")[:4000]
        if delivery.status == 200:
            delivery.error = ack_failure(raw)
            delivery.ack = delivery.error is None
        with self.lock:
            self.state.deliveries.append(delivery)
            for n in live:
                n.in_flight = False
                n.attempts += 1
                if delivery.ack:
                    if self.rng.random() < self.org.config.outbound_duplicate_rate:
                        n.next_at = time.time()  # at least once: deliver again
                        continue
                    self.state.pending.remove(n)
                else:
                    backoff = min(
                        self.org.config.outbound_retry_initial_seconds * (2 ** (n.attempts - 1)),
                        self.org.config.outbound_retry_max_seconds,
                    )
                    n.next_at = time.time() + backoff
        if any(n in self.state.pending for n in live):
            self.wake.set()

    # ----- inspection -----
    def deliveries(self) -> list[dict[str, Any]]:
        with self.lock:
            return [d.as_dict() for d in self.state.deliveries]

    def pending(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(n.__dict__) for n in self.state.pending]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "deliveries": [d.as_dict() for d in self.state.deliveries],
                "pending": [dict(n.__dict__) for n in self.state.pending],
                "dropped": list(self.state.dropped),
            }

    def clear(self) -> None:
        with self.lock:
            self.state = OutboundState()
