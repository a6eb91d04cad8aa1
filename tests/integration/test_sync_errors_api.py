"""The error log and dead-letter replays through sync administration's HTTP interface, with the whole engine
in-process: find, read, retry (an export as the record is now, a change from Salesforce as kept or edited),
resolve one or a selection, replay dead letters; every write for administrators only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.change_events import inbound_account_change
from tests.support.engine import Engine, running_engine

VALIDATION_RULE = {
    "scope": "record",
    "kind": "collections",
    "status": 400,
    "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    "message": "Accounts need a region",
}


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


def _errors(engine: Engine, **query: str) -> list[dict[str, Any]]:
    answer = engine.admin("GET", "/sync/errors", query=query or None, user="viewer", roles=())
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


def _entry(engine: Engine, ref: str) -> dict[str, Any]:
    answer = engine.admin("GET", f"/sync/errors/{ref}", user="viewer", roles=())
    assert answer.status == 200, answer.body
    return dict(answer.body)


def _linked_account(engine: Engine, name: str) -> tuple[str, str]:
    account = engine.api("POST", "/records/Account", body={"name": name}).body["id"]
    engine.drain()
    return account, engine.api("GET", f"/records/Account/{account}/sync-status").body["external_ref"]


def test_an_export_refused_by_salesforce_is_listed_and_clears_when_retried_after_the_fix(engine: Engine) -> None:
    engine.emulator.add_fault(**VALIDATION_RULE, count=1)  # the org's rule, fixed after one refusal
    account = engine.api("POST", "/records/Account", body={"name": "Regionless"}).body["id"]
    engine.drain()

    [listed] = _errors(engine, entity="Account", direction="to Salesforce", code="FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert (listed["record_id"], listed["status"], listed["attempts"]) == (account, "open", 1)
    entry = _entry(engine, listed["ref"])
    assert entry["payload"]["Name"] == "Regionless"  # what was sent
    assert entry["message"] == "Salesforce FIELD_CUSTOM_VALIDATION_EXCEPTION: Accounts need a region"

    retried = engine.admin("POST", f"/sync/errors/{listed['ref']}/retry", body={})
    assert (retried.status, retried.body["status"], retried.body["handled_by"]) == (200, "retrying", "admin")
    engine.drain()

    assert _entry(engine, listed["ref"])["status"] == "resolved"
    status = engine.api("GET", f"/records/Account/{account}/sync-status").body
    assert status["status"] == "Synchronized"
    assert _errors(engine, entity="Account") == []
    # The Sync Status tab's history: the record's attempts, newest first, each with the status it left.
    history = [(attempt["event"], attempt["status"], attempt["message"]) for attempt in status["history"]]
    assert history == [
        ("export succeeded", "Synchronized", None),
        (
            "export failed, permanent",
            "Error",
            "Salesforce FIELD_CUSTOM_VALIDATION_EXCEPTION: Accounts need a region",
        ),
    ]
    assert status["history"][0]["at"] == status["latest_attempt"]


def test_a_change_from_salesforce_retried_with_an_edited_payload_applies_and_clears(engine: Engine) -> None:
    account, salesforce_id = _linked_account(engine, "Edited")
    engine.put_inbound(inbound_account_change(salesforce_id, "too-long", Industry="I" * 60))
    engine.drain()
    [listed] = _errors(engine, direction="from Salesforce")
    assert (listed["record_id"], listed["code"]) == (account, "VALIDATION_FAILED")

    payload = _entry(engine, listed["ref"])["payload"]
    moved = {**payload, "salesforce_id": "001000000000099AAA"}
    refused = engine.admin("POST", f"/sync/errors/{listed['ref']}/retry", body={"payload": moved})
    assert refused.status == 422 and refused.body["errors"][0]["field"] == "body.payload.salesforce_id"
    unreadable = {"payload": {**payload, "stamp": "yesterday"}}
    broken = engine.admin("POST", f"/sync/errors/{listed['ref']}/retry", body=unreadable)
    assert broken.status == 422 and broken.body["errors"][0]["field"] == "body.payload.stamp"

    edited = {**payload, "values": {"Industry": "Energy"}}
    retried = engine.admin("POST", f"/sync/errors/{listed['ref']}/retry", body={"payload": edited})
    assert retried.status == 200, retried.body
    assert retried.body["payload"]["values"] == {"Industry": "Energy"}
    engine.drain()

    assert engine.api("GET", f"/records/Account/{account}").body["fields"]["industry"] == "Energy"
    assert _entry(engine, listed["ref"])["status"] == "resolved"


def test_an_export_error_takes_no_edited_payload_and_a_resolved_one_no_retry(engine: Engine) -> None:
    engine.emulator.add_fault(**VALIDATION_RULE, count=1)
    engine.api("POST", "/records/Account", body={"name": "Fixed in the hub"})
    engine.drain()
    [listed] = _errors(engine)

    edited = engine.admin("POST", f"/sync/errors/{listed['ref']}/retry", body={"payload": {"Name": "x"}})
    assert edited.status == 422 and edited.body["field"] == "body.payload"

    resolved = engine.admin("POST", f"/sync/errors/{listed['ref']}/resolve", body={"note": "fixed in the org"})
    assert resolved.status == 200, resolved.body
    assert (resolved.body["status"], resolved.body["note"], resolved.body["handled_by"]) == (
        "resolved",
        "fixed in the org",
        "admin",
    )
    assert resolved.body["expires_at"] is not None
    again = engine.admin("POST", f"/sync/errors/{listed['ref']}/retry", body={})
    assert again.status == 422
    assert [entry["ref"] for entry in _errors(engine, status="resolved")] == [listed["ref"]]


def test_a_selection_is_retried_or_resolved_entry_by_entry(engine: Engine) -> None:
    engine.emulator.add_fault(**VALIDATION_RULE, count=2)
    for name in ("First", "Second"):
        engine.api("POST", "/records/Account", body={"name": name})
        engine.drain()
    refs = [entry["ref"] for entry in _errors(engine)]
    assert len(refs) == 2

    answer = engine.admin(
        "POST", "/sync/errors/resolve", body={"refs": [*refs, "bm9wZSNub3BlI25vcGUjbm9wZQ"], "note": "n"}
    )
    assert answer.status == 200, answer.body
    assert [(item["ok"], item["status"]) for item in answer.body] == [
        (True, "resolved"),
        (True, "resolved"),
        (False, None),
    ]
    assert "no error log entry" in answer.body[2]["message"]

    retried = engine.admin("POST", "/sync/errors/retry", body={"refs": refs})
    assert [item["ok"] for item in retried.body] == [False, False]  # resolved: nothing to retry


def test_the_log_is_newest_first_paginated_and_filtered_by_time(engine: Engine) -> None:
    engine.emulator.add_fault(**VALIDATION_RULE, count=3)
    names = ("One", "Two", "Three")
    for name in names:
        engine.api("POST", "/records/Account", body={"name": name})
        engine.drain()
    first = engine.admin("GET", "/sync/errors", query={"limit": "2"}).body
    rest = engine.admin("GET", "/sync/errors", query={"limit": "2", "cursor": first["next_cursor"]}).body
    seen = [entry["payload"]["Name"] for entry in first["items"] + rest["items"]]
    assert seen == ["Three", "Two", "One"] and rest["next_cursor"] is None

    newest = first["items"][0]["last_seen"]
    assert [e["payload"]["Name"] for e in _errors(engine, since=newest)] == ["Three"]
    assert [e["payload"]["Name"] for e in _errors(engine, until=first["items"][1]["last_seen"])] == ["Two", "One"]
    assert _errors(engine, code="NO_SUCH_CODE") == []
    wrong = engine.admin("GET", "/sync/errors", query={"since": newest, "until": "2000-01-01T00:00:00Z"})
    assert wrong.status == 422


def test_a_dead_letter_replay_brings_dead_work_back(engine: Engine) -> None:
    engine.emulator.add_fault(scope="record", kind="collections", status=400, error_code="UNABLE_TO_LOCK_ROW")
    account = engine.api("POST", "/records/Account", body={"name": "Dead then alive"}).body["id"]
    other = engine.api("POST", "/records/Account", body={"name": "Stays dead"}).body["id"]
    engine.drain()
    assert {entry["record_id"] for entry in _errors(engine, status="dead")} == {account, other}
    engine.emulator.clear_faults()

    messages = engine.sqs.receive_message(
        QueueUrl=engine.queue_url("ExportDeadLetterQueue"), MaxNumberOfMessages=10, VisibilityTimeout=0
    )["Messages"]
    chosen = next(m["MessageId"] for m in messages if account in m["Body"])
    answer = engine.admin("POST", "/sync/dlq/replay", body={"queue": "export", "message_ids": [chosen]})
    assert answer.status == 200, answer.body
    assert (answer.body["moved"], answer.body["left"], answer.body["more"]) == (1, 1, False)
    engine.drain()

    assert engine.api("GET", f"/records/Account/{account}/sync-status").body["status"] == "Synchronized"
    assert engine.api("GET", f"/records/Account/{other}/sync-status").body["status"] == "Error"
    everything = engine.admin("POST", "/sync/dlq/replay", body={"queue": "export"})
    assert everything.body["moved"] == 1
    engine.drain()
    assert engine.api("GET", f"/records/Account/{other}/sync-status").body["status"] == "Synchronized"
    assert engine.admin("POST", "/sync/dlq/replay", body={"queue": "sync"}).body["moved"] == 0


ERROR_WRITES = [
    ("POST", "/sync/errors/bm9wZSNub3BlI25vcGUjbm9wZQ/retry", {}),
    ("POST", "/sync/errors/bm9wZSNub3BlI25vcGUjbm9wZQ/resolve", {}),
    ("POST", "/sync/errors/retry", {"refs": ["x"]}),
    ("POST", "/sync/errors/resolve", {"refs": ["x"]}),
    ("POST", "/sync/dlq/replay", {"queue": "export"}),
    ("POST", "/sync/errors/bm9wZSNub3BlI25vcGUjbm9wZQ/resolve-conflict", {"choose": "hub"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ERROR_WRITES)
def test_every_error_write_needs_the_administrator_role(engine: Engine, method: str, path: str, body: Any) -> None:
    answer = engine.admin(method, path, body=body, user="mallory", roles=("integration",))
    assert answer.status == 403, answer.body
    assert answer.body["required_roles"] == ["administrator"]


def test_an_unknown_ref_is_404(engine: Engine) -> None:
    assert engine.admin("GET", "/sync/errors/not-a-ref").status == 404
    assert engine.admin("POST", "/sync/errors/bm9wZSNub3BlI25vcGUjbm9wZQ/resolve", body={}).status == 404


def _conflict(engine: Engine) -> tuple[str, str, dict[str, Any]]:
    """An account whose hub edit (phone, website) Salesforce refused, then edited in Salesforce too: under the
    manual policy, a conflict entry waits for a person."""
    config = engine.admin("GET", "/sync/entities/Account/config")
    saved = engine.admin(
        "PUT",
        "/sync/entities/Account/config",
        body={**config.body, "conflict_policy": "manual"},
        headers={"If-Match": config.headers["ETag"]},
    )
    assert saved.status == 200, saved.body
    account, salesforce_id = _linked_account(engine, "Both sides")
    engine.emulator.add_fault(**VALIDATION_RULE, count=1)
    version = engine.api("GET", f"/records/Account/{account}").body["version"]
    hub_edit = {"phone": "+1 hub", "website": "https://hub.example"}
    engine.api("PATCH", f"/records/Account/{account}", body=hub_edit, headers={"If-Match": f'"{version}"'})
    engine.drain()
    theirs = {"Phone": "+1 salesforce", "Website": "https://salesforce.example"}
    engine.emulator.user_change("update", "Account", salesforce_id, theirs)
    engine.put_inbound(inbound_account_change(salesforce_id, "user:2", **theirs))
    engine.drain()
    [entry] = _errors(engine, code="CONFLICT")
    assert set(entry["payload"]["change"]["values"]) == {"Phone", "Website"}
    return account, salesforce_id, entry


def test_a_conflict_is_settled_field_by_field(engine: Engine) -> None:
    account, salesforce_id, entry = _conflict(engine)

    partial = engine.admin("POST", f"/sync/errors/{entry['ref']}/resolve-conflict", body={"fields": {"Nope": "hub"}})
    assert partial.status == 422, partial.body
    assert {error["field"] for error in partial.body["errors"]} == {
        "body.fields.Nope",
        "body.fields.Phone",
        "body.fields.Website",
    }
    retried = engine.admin("POST", f"/sync/errors/{entry['ref']}/retry", body={})
    assert retried.status == 422 and retried.body["field"] == "code"

    settled = engine.admin(
        "POST",
        f"/sync/errors/{entry['ref']}/resolve-conflict",
        body={"fields": {"Phone": "salesforce", "Website": "hub"}, "note": "phone from the customer call"},
    )
    assert (settled.status, settled.body["status"]) == (200, "resolved"), settled.body
    assert (settled.body["note"], settled.body["handled_by"]) == ("phone from the customer call", "admin")
    engine.drain()

    fields = engine.api("GET", f"/records/Account/{account}").body["fields"]
    assert (fields["phone"], fields["website"]) == ("+1 salesforce", "https://hub.example")
    row = next(row for row in engine.emulator.records("Account") if row["Id"] == salesforce_id)
    assert (row["Phone"], row["Website"]) == ("+1 salesforce", "https://hub.example")
    assert engine.api("GET", f"/records/Account/{account}/sync-status").body["status"] == "Synchronized"
    assert _entry(engine, entry["ref"])["status"] == "resolved"


def test_a_conflict_settled_for_the_hub_sends_the_hubs_side(engine: Engine) -> None:
    account, salesforce_id, entry = _conflict(engine)

    settled = engine.admin("POST", f"/sync/errors/{entry['ref']}/resolve-conflict", body={"choose": "hub"})
    assert settled.status == 200, settled.body
    engine.drain()

    row = next(row for row in engine.emulator.records("Account") if row["Id"] == salesforce_id)
    assert (row["Phone"], row["Website"]) == ("+1 hub", "https://hub.example")
    assert engine.api("GET", f"/records/Account/{account}/sync-status").body["status"] == "Synchronized"
    assert _entry(engine, entry["ref"])["status"] == "resolved"


def test_an_import_failure_outlives_an_export_success_and_clears_with_the_next_good_import(engine: Engine) -> None:
    """An export's success settles the export side only: the import's open entry stays remembered by the
    record, so the next change from Salesforce that applies resolves it by itself."""
    account, salesforce_id = _linked_account(engine, "Remembered")
    engine.put_inbound(inbound_account_change(salesforce_id, "too-long", Industry="I" * 60))
    engine.drain()
    [listed] = _errors(engine, direction="from Salesforce")
    assert (listed["record_id"], listed["status"]) == (account, "open")

    version = engine.api("GET", f"/records/Account/{account}").body["version"]
    edited = engine.api(
        "PATCH", f"/records/Account/{account}", body={"phone": "+1 555 0100"}, headers={"If-Match": f'"{version}"'}
    )
    assert edited.status == 200, edited.body
    engine.drain()  # the hub's edit exported: Synchronized again
    assert engine.api("GET", f"/records/Account/{account}/sync-status").body["status"] == "Synchronized"
    assert _entry(engine, listed["ref"])["status"] == "open"  # not the export's to settle

    later = inbound_account_change(salesforce_id, "fixed", Industry="Energy")
    engine.put_inbound(later.model_copy(update={"stamp": later.stamp + timedelta(seconds=5)}))
    engine.drain()
    assert engine.api("GET", f"/records/Account/{account}").body["fields"]["industry"] == "Energy"
    assert _entry(engine, listed["ref"])["status"] == "resolved"
