"""Change Data Capture relayed to EventBridge (Event Relay): one EventBridge event per change event."""

from __future__ import annotations

import base64
import hashlib
import queue
import threading
import traceback
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from . import textdiff, values
from .org import Org
from .schema import ObjectDef
from .store import Change

EXCLUDED = frozenset({"Id", "IsDeleted", "SystemModstamp"})


def schema_id(sobject: str) -> str:
    digest = hashlib.sha256(f"{sobject}ChangeEvent".encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _value(value: Any) -> Any:
    """Event Relay (Pub/Sub Avro decoded to JSON): datetimes as epoch milliseconds."""
    if isinstance(value, datetime):
        return values.epoch_millis(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _layout(obj: ObjectDef) -> list[tuple[str, list[tuple[str, str]]]]:
    """Payload keys in schema order; compound fields (Name, BillingAddress ...) group their components."""
    compounds = {f.compound[0] for f in obj.fields.values() if f.compound}
    layout: list[tuple[str, list[tuple[str, str]]]] = []
    seen: dict[str, list[tuple[str, str]]] = {}
    for fdef in obj.fields.values():
        if fdef.name in EXCLUDED or (fdef.name in compounds and not fdef.compound):
            continue
        if fdef.compound:
            group, part = fdef.compound
            if group not in seen:
                seen[group] = []
                layout.append((group, seen[group]))
            seen[group].append((part, fdef.name))
        else:
            layout.append((fdef.name, []))
    return layout


def build_payload(
    obj: ObjectDef,
    change: Change,
    commit_number: int,
    commit_ms: int,
    *,
    include_unchanged: bool = False,
    diff_large_text: bool = True,
) -> dict[str, Any]:
    """ChangeEventHeader plus the body Salesforce sends for the operation.

    Change Data Capture Developer Guide, "Change Event Body Fields" (cdc_event_fields_body.htm) and Streaming API
    Developer Guide, "Differences Between Change Events Received with Streaming API vs. Pub/Sub API": JSON
    events leave out null and unchanged fields (UPDATE: the changed fields, those set to null as null, plus
    LastModifiedDate; CREATE/UNDELETE: the non-empty fields; DELETE: none). `include_unchanged` sends every
    field, null when unchanged or empty, as Pub/Sub API (Avro) clients receive them.
    """
    record = change.after or change.before or {}
    before = change.before or {}
    kind = change.kind
    changed = set(change.changed_fields)
    payload: dict[str, Any] = {}
    changed_names: list[str] = []
    nulled: list[str] = []
    diffed: list[str] = []

    def carried(field_name: str, value: Any) -> bool:
        """Whether the body holds this field with its value (an UPDATE also carries fields set to null)."""
        if kind == "UPDATE":
            return field_name in changed
        return kind in ("CREATE", "UNDELETE") and value is not None

    for key, parts in _layout(obj):
        if parts:
            group: dict[str, Any] = {}
            for part, field_name in parts:
                value = record.get(field_name)
                if kind == "UPDATE" and field_name in changed:
                    changed_names.append(f"{key}.{part}")
                    if value is None:
                        nulled.append(f"{key}.{part}")
                if carried(field_name, value):
                    group[part] = _value(value)
                elif include_unchanged:
                    group[part] = None
            if include_unchanged:
                any_carried = any(carried(f, record.get(f)) for _, f in parts)
                payload[key] = group if any_carried else None
            elif group:
                payload[key] = group
            continue
        value = record.get(key)
        if kind == "UPDATE" and key in changed:
            changed_names.append(key)
            if value is None:
                nulled.append(key)
        if carried(key, value):
            diff = None
            if kind == "UPDATE" and diff_large_text and obj.fields[key.lower()].type == "textarea":
                diff = textdiff.unified_diff(before.get(key), value)
            if diff is not None:
                diffed.append(key)
            payload[key] = diff if diff is not None else _value(value)
        elif include_unchanged:
            payload[key] = None
    header = {
        "entityName": obj.name,
        "recordIds": [change.record_id],
        "changeType": kind,
        "changeOrigin": change.origin,
        "transactionKey": change.transaction_key,
        "sequenceNumber": change.sequence_number,
        "commitTimestamp": commit_ms,
        "commitNumber": commit_number,
        "commitUser": change.user_id,
        "nulledFields": nulled,
        "diffFields": diffed,
        "changedFields": changed_names,
    }
    return {"ChangeEventHeader": header, **payload}


class CdcRelay:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.sink: Callable[[dict[str, Any]], None] | None = org.config.cdc_sink
        self.objects = {o.lower() for o in org.config.cdc_objects} if org.config.cdc_objects is not None else None
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.lock = threading.Lock()
        self.delivered: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.commit_number = 1_000_000_000_000
        self.commit_ms = 0
        self.replay_id = 0
        self.thread: threading.Thread | None = None

    def next_commit(self) -> tuple[int, int]:
        """The next commit's number and commitTimestamp. Salesforce stamps a commit in milliseconds (unlike
        SystemModstamp's whole seconds); commits here are serialised, so each gets a later millisecond than the
        last and two commits of one record are never tied."""
        with self.lock:
            self.commit_number += 1
            self.commit_ms = max(values.epoch_millis(self.org.clock.now_precise()), self.commit_ms + 1)
            return self.commit_number, self.commit_ms

    def source(self) -> str:
        return f"aws.partner/salesforce.com/{self.org.config.org_id}/{self.org.config.event_relay_channel_id}"

    def envelope(self, sobject: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.replay_id += 1
        now = self.org.clock.now()
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": f"{sobject}ChangeEvent",
            "source": self.source(),
            "account": self.org.config.aws_account_id,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.org.config.aws_region,
            "resources": [],
            "detail": {"payload": payload, "schemaId": schema_id(sobject), "id": str(uuid.uuid4())},
        }

    def on_changes(self, changes: list[Change]) -> None:
        wanted = [c for c in changes if self.objects is None or c.sobject.lower() in self.objects]
        if not wanted:
            return
        commit_number, commit_ms = self.next_commit()
        events: list[dict[str, Any]] = []
        for change in wanted:
            obj = self.org.schemas[change.sobject.lower()]
            payload = build_payload(
                obj,
                change,
                commit_number,
                commit_ms,
                include_unchanged=self.org.config.cdc_include_unchanged_fields,
                diff_large_text=self.org.config.cdc_diff_large_text,
            )
            merged = False
            for previous in events:
                prev_header = previous["ChangeEventHeader"]
                if (
                    prev_header["entityName"] == obj.name
                    and prev_header["changeType"] == change.kind
                    and {k: v for k, v in previous.items() if k != "ChangeEventHeader"}
                    == {k: v for k, v in payload.items() if k != "ChangeEventHeader"}
                    and prev_header["changedFields"] == payload["ChangeEventHeader"]["changedFields"]
                ):
                    prev_header["recordIds"].append(change.record_id)
                    merged = True
                    break
            if not merged:
                events.append(payload)
        for number, payload in enumerate(events, start=1):
            payload["ChangeEventHeader"]["sequenceNumber"] = number
            self.queue.put(self.envelope(payload["ChangeEventHeader"]["entityName"], payload))

    def emit_gap(self, sobject: str, change_type: str, record_ids: list[str], user_id: str) -> dict[str, Any]:
        obj = self.org.schemas[sobject.lower()]
        commit_number, commit_ms = self.next_commit()
        header = {
            "entityName": obj.name,
            "recordIds": [] if change_type == "GAP_OVERFLOW" else list(record_ids),
            "changeType": change_type,
            "changeOrigin": "",
            "transactionKey": str(uuid.uuid4()),
            "sequenceNumber": 1,
            "commitTimestamp": commit_ms,
            "commitNumber": commit_number,
            "commitUser": user_id,
            "nulledFields": [],
            "diffFields": [],
            "changedFields": [],
        }
        event = self.envelope(obj.name, {"ChangeEventHeader": header})
        self.queue.put(event)
        return event

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="sf-emulator-cdc", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join(timeout=5)
            self.thread = None

    def _run(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            try:
                if self.sink is not None:
                    self.sink(event)
                with self.lock:
                    self.delivered.append(event)
            except Exception as exc:  # a failing sink must not stop the relay
                with self.lock:
                    self.errors.append({"event": event, "error": repr(exc), "trace": traceback.format_exc()})

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.delivered)

    def clear(self) -> None:
        with self.lock:
            self.delivered.clear()
            self.errors.clear()
