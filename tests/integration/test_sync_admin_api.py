"""Sync administration through its HTTP interface (sync_admin_api), with the whole engine in-process: the entity
table, stopping and processing entities (both directions held, nothing lost), configuration versions, roles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sync_core.domain.entities import EntityName
from tests.support.change_events import inbound_account_change
from tests.support.engine import Engine, running_engine


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    # Workers read the configuration at every change (in AWS a stop takes effect within the cache's minute).
    monkeypatch.setenv("SYNC_CONFIG_CACHE_SECONDS", "0")
    with running_engine() as running:
        yield running


def _row(engine: Engine, entity: str, **kwargs: Any) -> dict[str, Any]:
    answer = engine.admin("GET", "/sync/entities", **kwargs)
    assert answer.status == 200, answer.body
    return next(row for row in answer.body if row["entity"] == entity)


def _in_salesforce(engine: Engine, hub_id: str) -> dict[str, Any] | None:
    return next((row for row in engine.emulator.records("Account") if row.get("Hub_Id__c") == hub_id), None)


def _patch(engine: Engine, record_id: str, **fields: Any) -> None:
    version = engine.api("GET", f"/records/Account/{record_id}").body["version"]
    answer = engine.api("PATCH", f"/records/Account/{record_id}", body=fields, headers={"If-Match": f'"{version}"'})
    assert answer.status == 200, answer.body


def test_the_entity_table_shows_every_entity_with_its_status_and_counts_to_any_caller(engine: Engine) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Acme"}).body["id"]
    engine.api("POST", "/records/Account", body={"name": "Globex"})
    engine.drain()
    _patch(engine, account, phone="1")  # Modified Locally until the next drain

    answer = engine.admin("GET", "/sync/entities", user="viewer", roles=())

    assert answer.status == 200, answer.body
    assert [row["entity"] for row in answer.body] == [entity.value for entity in EntityName]
    rows = {row["entity"]: row for row in answer.body}
    assert rows["Account"]["counts"] == {
        "Modified Locally": 1,
        "Modified Externally": 0,
        "Synchronized": 1,
        "Error": 0,
        "Skipped": 0,
    }
    assert rows["Account"]["counts_at_least"] == []
    assert (rows["Account"]["process_status"], rows["Invoice"]["process_status"]) == ("Active", "Stopped")
    assert rows["Account"]["direction"] == "both" and rows["Invoice"]["direction"] == "to Salesforce"
    assert rows["Account"]["import_scenario"] == "Import Account from Salesforce"
    assert (rows["Account"]["last_run"], rows["Account"]["last_run_outcome"], rows["Account"]["sync_requested"]) == (
        None,
        None,
        None,
    )
    assert rows["Account"]["held_changes"] == 0


def test_a_stopped_entity_holds_both_directions_and_processing_sends_everything_that_waited(engine: Engine) -> None:
    kept = engine.api("POST", "/records/Account", body={"name": "Kept"}).body["id"]
    engine.drain()
    salesforce_id = engine.api("GET", f"/records/Account/{kept}/sync-status").body["external_ref"]

    stopped = engine.admin("POST", "/sync/entities/stop", body={"entities": ["Account"]})
    assert stopped.status == 200, stopped.body
    assert [(r["entity"], r["status"], r["changed"]) for r in stopped.body] == [("Account", "Stopped", True)]

    # Meanwhile: a hub edit, a new hub record, and a change from Salesforce.
    _patch(engine, kept, phone="+31 10 000")
    new = engine.api("POST", "/records/Account", body={"name": "Born while stopped"}).body["id"]
    engine.put_inbound(inbound_account_change(salesforce_id, "held-1", Website="https://kept.example"))
    engine.drain()

    assert _in_salesforce(engine, kept)["Phone"] is None  # type: ignore[index]
    assert _in_salesforce(engine, new) is None
    assert engine.api("GET", f"/records/Account/{kept}").body["fields"].get("website") is None
    row = _row(engine, "Account")
    assert (row["process_status"], row["held_changes"], row["counts"]["Modified Locally"]) == ("Stopped", 1, 2)

    processed = engine.admin("POST", "/sync/entities/process", body={"entities": ["Account"]})
    assert processed.status == 200, processed.body
    [result] = processed.body
    assert (result["status"], result["changes_released"], result["exports_queued"]) == ("Active", 1, 2)
    engine.drain()

    assert _in_salesforce(engine, kept)["Phone"] == "+31 10 000"  # type: ignore[index]
    assert _in_salesforce(engine, new) is not None
    assert engine.api("GET", f"/records/Account/{kept}").body["fields"]["website"] == "https://kept.example"
    row = _row(engine, "Account")
    assert (row["process_status"], row["held_changes"], row["counts"]["Synchronized"]) == ("Active", 0, 2)


def test_stop_all_and_process_all_cover_every_entity_and_say_what_changed(engine: Engine) -> None:
    stopped = engine.admin("POST", "/sync/entities/stop-all")
    assert stopped.status == 200, stopped.body
    changed = {r["entity"]: r["changed"] for r in stopped.body}
    assert changed == {e.value: e not in (EntityName.INVOICE, EntityName.CONTRACT_USAGE) for e in EntityName}

    processed = engine.admin("POST", "/sync/entities/process-all")
    assert processed.status == 200, processed.body
    assert {r["status"] for r in processed.body} == {"Active"}
    assert all(row["process_status"] == "Active" for row in engine.admin("GET", "/sync/entities").body)


def test_a_configuration_is_validated_whole_versioned_and_changes_what_the_next_sync_does(engine: Engine) -> None:
    first = engine.admin("GET", "/sync/entities/Account/config")
    assert (first.status, first.headers["ETag"]) == (200, '"0"')
    config = first.body

    wrong = engine.admin(
        "PUT",
        "/sync/entities/Account/config",
        body={**config, "mode": "batch", "create_only": True, "sync_only_linked": True},
        headers={"If-Match": '"0"'},
    )
    assert wrong.status == 422, wrong.body
    assert {error["field"] for error in wrong.body["errors"]} == {"schedule", "sync_only_linked"}

    not_here = engine.admin("PUT", "/sync/entities/Account/config", body={**config, "status": "Stopped"})
    assert not_here.status == 422 and not_here.body["errors"][0]["field"] == "body.status"

    saved = engine.admin(
        "PUT",
        "/sync/entities/Account/config",
        body={**config, "export_enabled": False},
        headers={"If-Match": '"0"'},
        user="carol",
    )
    assert (saved.status, saved.headers["ETag"], saved.body["updated_by"]) == (200, '"1"', "carol")

    stale = engine.admin("PUT", "/sync/entities/Account/config", body=config, headers={"If-Match": '"0"'})
    assert (stale.status, stale.body["expected"], stale.body["current"]) == (412, 0, 1)

    versions = engine.admin("GET", "/sync/entities/Account/config/versions").body["items"]
    assert [(v["version"], v["saved_by"], v["change"], v["config"]["export_enabled"]) for v in versions] == [
        (1, "carol", "config", False)
    ]

    # Export is off now: a hub write stays in the hub.
    account = engine.api("POST", "/records/Account", body={"name": "Stays home"}).body["id"]
    engine.drain()
    assert _in_salesforce(engine, account) is None


def test_every_save_process_and_stop_included_is_a_version_with_who_and_when(engine: Engine) -> None:
    engine.admin("POST", "/sync/entities/stop", body={"entities": ["Lead"]}, user="dave")
    engine.admin("POST", "/sync/entities/stop", body={"entities": ["Lead"]}, user="dave")  # already stopped
    engine.admin("POST", "/sync/entities/process", body={"entities": ["Lead"]}, user="erin")

    versions = engine.admin("GET", "/sync/entities/Lead/config/versions", query={"limit": "1"})
    assert [(v["version"], v["change"], v["saved_by"]) for v in versions.body["items"]] == [(2, "process", "erin")]
    older = engine.admin(
        "GET", "/sync/entities/Lead/config/versions", query={"limit": "5", "cursor": versions.body["next_cursor"]}
    )
    assert [(v["version"], v["change"], v["saved_by"]) for v in older.body["items"]] == [(1, "stop", "dave")]
    assert engine.admin("GET", "/sync/entities/Lead/config").headers["ETag"] == '"2"'


WRITES = [
    ("POST", "/sync/entities/process", {"entities": ["Account"]}),
    ("POST", "/sync/entities/process-all", None),
    ("POST", "/sync/entities/stop", {"entities": ["Account"]}),
    ("POST", "/sync/entities/stop-all", None),
    ("PUT", "/sync/entities/Account/config", {"entity": "Account"}),
    ("POST", "/sync/entities/Account/sync-now", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_every_write_needs_the_administrator_role(engine: Engine, method: str, path: str, body: Any) -> None:
    for roles in ((), ("integration", "agent")):
        answer = engine.admin(method, path, body=body, user="mallory", roles=roles)
        assert answer.status == 403, answer.body
        assert answer.body["required_roles"] == ["administrator"]
    assert all(row["config_version"] == 0 for row in engine.admin("GET", "/sync/entities").body)


def test_an_unknown_entity_or_selection_is_refused_with_its_field(engine: Engine) -> None:
    unknown = engine.admin("GET", "/sync/entities/Widget/config")
    assert unknown.status == 422, unknown.body
    empty = engine.admin("POST", "/sync/entities/stop", body={"entities": []})
    assert empty.status == 422 and empty.body["errors"][0]["field"].startswith("body.entities")
    wrong = engine.admin("PUT", "/sync/entities/Account/config", body={"entity": "Lead"})
    assert wrong.status == 422 and wrong.body["field"] == "body.entity"


def test_sync_now_runs_the_entity_at_the_next_tick_and_pulls_a_change_made_in_salesforce(engine: Engine) -> None:
    account = engine.api("POST", "/records/Account", body={"name": "Pulled"}).body["id"]
    engine.drain()
    salesforce_id = engine.api("GET", f"/records/Account/{account}/sync-status").body["external_ref"]
    engine.emulator.user_change("update", "Account", salesforce_id, {"Phone": "+49 30 1234"})  # no event reaches us

    asked = engine.admin("POST", "/sync/entities/Account/sync-now", user="carol")
    assert asked.status == 202, asked.body
    row = _row(engine, "Account")
    assert row["sync_requested"] is not None and row["last_run"] is None

    engine.tick()
    engine.drain()

    assert engine.api("GET", f"/records/Account/{account}").body["fields"]["phone"] == "+49 30 1234"
    row = _row(engine, "Account")
    assert (row["sync_requested"], row["last_run_outcome"]) == (None, "complete")
    assert row["last_run"] is not None


def test_sync_now_of_an_entity_that_syncs_nothing_is_refused(engine: Engine) -> None:
    answer = engine.admin("POST", "/sync/entities/Invoice/sync-now")  # stopped until its custom object exists
    assert answer.status == 422 and answer.body["field"] == "entity"
