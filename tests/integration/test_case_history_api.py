"""cases_api in-process on moto tables from template.yaml: unbounded history (activities as items of their own,
paginated), the assignment map read in one paged query, and the bounds on what a setting or a case holds."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.dynamodb.case_activities import activity_item
from sync_core.adapters.dynamodb.case_settings import ASSIGNMENT_PARTITION, DynamoCaseSettingsStore
from sync_core.adapters.dynamodb.records import DynamoRecordStore, DynamoSyncStateStore
from sync_core.domain.cases.activities import ActivityInput, log_activity
from sync_core.domain.cases.models import CaseRecord
from sync_core.domain.cases.settings import MAX_ASSIGNMENT_RULES, MAX_WORKGROUP_MEMBERS, AssignmentRule, CaseClass
from sync_core.domain.entities import EntityName
from sync_core.errors import RetryableError, StaleVersionError
from tests.support.api import ApiAnswer, call, http_event
from tests.support.aws_stack import hub_aws_environment

LONG_EMAIL = "Dear support, the printer still jams. " * 800  # about 30 KB


@pytest.fixture
def api() -> Iterator[Any]:
    with hub_aws_environment():
        from functions.cases_api import app
        from functions.records_api import app as records_app

        app._services.cache_clear()
        records_app._service.cache_clear()
        yield app
        app._services.cache_clear()
        records_app._service.cache_clear()


def request(api: Any, method: str, path: str, **kwargs: Any) -> ApiAnswer:
    route = "ANY /cases" if path == "/cases" else "ANY /cases/{proxy+}"
    kwargs.setdefault("user", "alice")
    if path.startswith("/cases/settings"):
        kwargs.setdefault("roles", ("administrator",))  # only an administrator writes settings (test_roles.py)
    return call(api.lambda_handler, http_event(method, path, route_key=route, **kwargs))


@pytest.fixture
def case_id(api: Any) -> str:
    from functions.records_api import app as records_app

    support = {"class_id": "SUPPORT", "billable": True, "labor_rate": 80, "round_time_minutes": 15}
    assert request(api, "PUT", "/cases/settings/classes/SUPPORT", body=support).status == 200
    answer = call(
        records_app.lambda_handler,
        http_event("POST", "/records/Account", route_key="ANY /records/{entity}", body={"name": "Acme"}),
    )
    body = {"subject": "Printer jams", "class_id": "SUPPORT", "account_id": answer.body["id"]}
    created = request(api, "POST", "/cases", body=body)
    assert created.status == 201, created.body
    return str(created.body["id"])


class DynamoCalls:
    """Counts the DynamoDB calls the shared client makes (operation name -> calls)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __enter__(self) -> Counter[str]:
        dynamodb_client().meta.events.register("before-call.dynamodb", self._count)
        return self.calls

    def __exit__(self, *_: object) -> None:
        dynamodb_client().meta.events.unregister("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1


# ---------------------------------------------------------------- activities


def seed_activities(case_id: str, count: int, *, long_email_every: int) -> None:
    """Give the case `count` activities as the service would have logged them (the domain's totals, the adapter's
    items), written in batches: moto copies a whole table on every transaction, so logging a thousand one by one
    through it takes minutes where DynamoDB takes seconds."""
    store = DynamoRecordStore(
        dynamodb_client(), records_table=os.environ["RECORDS_TABLE"], sync_state_table=os.environ["SYNC_STATE_TABLE"]
    )
    hub_record = store.get(EntityName.CASE, case_id)
    assert hub_record is not None
    current = CaseRecord.from_hub_record(hub_record)
    case = current.fields
    case_class = CaseClass(class_id="SUPPORT", billable=True, labor_rate=Decimal(80), round_time_minutes=15)
    items = []
    for number in range(1, count + 1):
        long_email = number % long_email_every == 0
        activity = ActivityInput.model_validate(
            {
                "type": "Email" if long_email else "Work Item",
                "summary": f"Activity {number}",
                "time_spent_minutes": 3,
                "description": LONG_EMAIL if long_email else None,
            }
        )
        case, logged = log_activity(case, activity, case_class=case_class, actor="bob", now=current.updated_at)
        items.append(activity_item(case_id, logged))
    for start in range(0, len(items), 25):
        batch: list[Any] = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb_client().batch_write_item(RequestItems={os.environ["RECORDS_TABLE"]: batch})
    seeded = current.model_copy(update={"version": current.version + 1, "fields": case})
    state = DynamoSyncStateStore(dynamodb_client(), sync_state_table=os.environ["SYNC_STATE_TABLE"]).get(
        EntityName.CASE, case_id
    )
    assert state is not None
    store.replace(seeded.to_hub_record(), state, expected_version=current.version)


def test_a_case_with_over_a_thousand_activities_and_long_emails_keeps_taking_them(api: Any, case_id: str) -> None:
    # Given a case with 1,000 activities, 40 of them 30 KB emails: three times what one DynamoDB item could hold
    seed_activities(case_id, 1000, long_email_every=25)
    # When another long email arrives through the API
    email = {"type": "Email", "summary": "Still jams", "direction": "Incoming", "description": LONG_EMAIL}
    logged = request(api, "POST", f"/cases/{case_id}/activities", body=email)
    # Then it is taken, and the case item holds only its bounded totals
    assert (logged.status, logged.body["number"], logged.headers["ETag"]) == (201, 1001, '"3"')
    case = request(api, "GET", f"/cases/{case_id}").body["fields"]
    assert (case["activity_totals"]["count"], case["time_spent_minutes"]) == (1001, 3000)
    assert "activities" not in case
    item = dynamodb_client().get_item(
        TableName=os.environ["RECORDS_TABLE"], Key={"pk": {"S": "Case"}, "sk": {"S": case_id}}
    )["Item"]
    assert len(json.dumps(item)) < 5_000
    # And walking the pages gives every activity exactly once, oldest first
    numbers: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = request(api, "GET", f"/cases/{case_id}/activities", query=query)
        assert page.status == 200, page.body
        numbers += [activity["number"] for activity in page.body["items"]]
        pages += 1
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert numbers == list(range(1, 1002))
    assert pages in (11, 12)  # the last full page may be followed by an empty one
    assert page.body["items"] == [] or page.body["items"][-1]["description"] == LONG_EMAIL.strip()


def test_activity_pages_refuse_a_foreign_or_forged_cursor_and_answer_404_for_an_unknown_case(
    api: Any, case_id: str
) -> None:
    for _ in range(3):
        assert request(api, "POST", f"/cases/{case_id}/activities", body={"type": "Note", "summary": "n"}).status == 201
    first = request(api, "GET", f"/cases/{case_id}/activities", query={"limit": "2"}).body
    assert [a["number"] for a in first["items"]] == [1, 2]
    other = request(api, "POST", "/cases", body={"subject": "Other", "class_id": "SUPPORT"}).body["id"]
    foreign = request(api, "GET", f"/cases/{other}/activities", query={"cursor": first["next_cursor"]})
    assert (foreign.status, foreign.body["field"]) == (422, "cursor")
    forged = request(api, "GET", f"/cases/{case_id}/activities", query={"cursor": "bm90LWEtY3Vyc29y"})
    assert forged.status == 422
    assert request(api, "GET", "/cases/CS999999/activities").status == 404
    assert request(api, "GET", f"/cases/{case_id}/activities", query={"limit": "101"}).status == 422


def test_a_lost_race_on_dynamodb_is_tried_again_and_both_activities_are_kept(api: Any, case_id: str) -> None:
    # Given a rival activity written between this write's read of the case and its transaction
    client = dynamodb_client()
    rival_written: list[bool] = []

    def rival(**_: Any) -> None:
        if not rival_written:
            rival_written.append(True)
            rival_activity = ActivityInput.model_validate({"type": "Note", "summary": "Rival", "time_spent_minutes": 7})
            api._services().activities.add_activity(case_id, rival_activity, actor="bob", expected_version=None)

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", rival)
    try:
        mine = request(
            api,
            "POST",
            f"/cases/{case_id}/activities",
            body={"type": "Note", "summary": "Mine", "time_spent_minutes": 5},
        )
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", rival)
    # Then both are kept, numbered in the order they landed
    assert (mine.status, mine.body["number"]) == (201, 2)
    listed = request(api, "GET", f"/cases/{case_id}/activities").body["items"]
    assert [(a["number"], a["summary"]) for a in listed] == [(1, "Rival"), (2, "Mine")]
    assert request(api, "GET", f"/cases/{case_id}").body["fields"]["time_spent_minutes"] == 12


def test_with_if_match_a_lost_race_is_refused_and_nothing_is_written(api: Any, case_id: str) -> None:
    assert request(api, "POST", f"/cases/{case_id}/activities", body={"type": "Note", "summary": "a"}).status == 201
    stale = request(
        api, "POST", f"/cases/{case_id}/activities", body={"type": "Note", "summary": "b"}, headers={"If-Match": '"1"'}
    )
    assert (stale.status, stale.body["current"]) == (412, 2)
    assert [a["summary"] for a in request(api, "GET", f"/cases/{case_id}/activities").body["items"]] == ["a"]


# ---------------------------------------------------------------- the assignment map


def rules(count: int, *, workgroups: int = 3) -> list[dict[str, Any]]:
    # Only the last rule matches a High-severity case: Apply Assignment Rules walks the whole map.
    return [
        {"workgroup_id": f"WG{index % workgroups}", "severity": "Low", "account_id": f"ACC-{index:06d}"}
        for index in range(count - 1)
    ] + [{"workgroup_id": "WG0", "owner": "alice", "severity": "High"}]


def put_workgroups(api: Any, count: int = 3) -> None:
    for index in range(count):
        body = {"workgroup_id": f"WG{index}", "members": ["alice", "bob"]}
        assert request(api, "PUT", f"/cases/settings/workgroups/WG{index}", body=body).status == 200


def test_the_assignment_map_is_written_and_read_in_a_constant_number_of_dynamodb_calls(api: Any, case_id: str) -> None:
    put_workgroups(api)
    high = request(api, "PATCH", f"/cases/{case_id}", body={"severity": "High", "workgroup_id": "WG1"})
    assert high.status == 200
    apply_calls: list[Counter[str]] = []
    for count in (1, MAX_ASSIGNMENT_RULES):
        # When the whole map is replaced
        with DynamoCalls() as put_calls:
            put = request(api, "PUT", "/cases/settings/assignment-rules", body={"rules": rules(count)})
        # Then: one query for the workgroups, one for the map's chunk keys, one transaction
        assert put.status == 200, put.body
        assert put_calls == {"Query": 2, "TransactWriteItems": 1}
        # And reading it back is one query, in order
        with DynamoCalls() as get_calls:
            got = request(api, "GET", "/cases/settings/assignment-rules")
        assert get_calls == {"Query": 1}
        assert got.body["rules"] == [
            {"owner": None, "class_id": None, "priority": None, "account_id": None, **rule} for rule in rules(count)
        ]
        with DynamoCalls() as calls:
            applied = request(api, "POST", f"/cases/{case_id}/transitions", body={"action": "apply-assignment-rules"})
        assert applied.status == 200, applied.body
        assert (applied.body["fields"]["workgroup_id"], applied.body["fields"]["owner"]) == ("WG0", "alice")
        apply_calls.append(calls)
    # Applying the map reads it in one query, and costs the same whether it has one rule or the most it may have
    assert apply_calls[0]["Query"] == 1
    assert apply_calls[0] == apply_calls[1]


def test_a_shorter_map_replaces_a_longer_one_whole(api: Any) -> None:
    put_workgroups(api)
    assert request(api, "PUT", "/cases/settings/assignment-rules", body={"rules": rules(250)}).status == 200
    assert request(api, "PUT", "/cases/settings/assignment-rules", body={"rules": rules(30)}).status == 200
    assert len(request(api, "GET", "/cases/settings/assignment-rules").body["rules"]) == 30
    chunks = dynamodb_client().query(
        TableName=os.environ["SYNC_CONFIG_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": ASSIGNMENT_PARTITION}},
    )["Items"]
    assert [chunk["sk"]["S"] for chunk in chunks] == ["0000"]
    assert request(api, "PUT", "/cases/settings/assignment-rules", body={"rules": []}).status == 200
    assert request(api, "GET", "/cases/settings/assignment-rules").body == {"rules": []}


def test_two_replacements_of_the_map_cannot_mix(api: Any) -> None:
    # Given a replacement that lands between another one's read of the map and its transaction
    put_workgroups(api)
    store = DynamoCaseSettingsStore(dynamodb_client(), sync_config_table=os.environ["SYNC_CONFIG_TABLE"])
    store.replace_assignment_rules([AssignmentRule(workgroup_id="WG0")] * 250)
    client = dynamodb_client()
    rival_done: list[bool] = []

    def rival(**_: Any) -> None:
        if not rival_done:
            rival_done.append(True)
            store.replace_assignment_rules([AssignmentRule(workgroup_id="WG1")] * 120)

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", rival)
    try:
        with pytest.raises(StaleVersionError):
            store.replace_assignment_rules([AssignmentRule(workgroup_id="WG2")] * 10)
    finally:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", rival)
    # Then the map is the rival's, whole
    assert store.assignment_rules() == [AssignmentRule(workgroup_id="WG1")] * 120


def test_a_read_that_meets_two_generations_of_the_map_is_never_answered_mixed(api: Any) -> None:
    store = DynamoCaseSettingsStore(dynamodb_client(), sync_config_table=os.environ["SYNC_CONFIG_TABLE"])
    store.replace_assignment_rules([AssignmentRule(workgroup_id="WG0")] * 150)
    item: dict[str, Any] = {
        "pk": {"S": ASSIGNMENT_PARTITION},
        "sk": {"S": "0001"},
        "generation": {"N": "9"},
        "chunks": {"N": "2"},
        "rules": {"L": []},
    }
    dynamodb_client().put_item(TableName=os.environ["SYNC_CONFIG_TABLE"], Item=item)
    with pytest.raises(RetryableError):
        store.assignment_rules()


# ---------------------------------------------------------------- bounds


def test_settings_beyond_their_bounds_are_refused_with_422_naming_the_field(api: Any) -> None:
    put_workgroups(api, 1)
    too_many = request(api, "PUT", "/cases/settings/assignment-rules", body={"rules": rules(MAX_ASSIGNMENT_RULES + 1)})
    assert too_many.status == 422
    assert too_many.body["errors"][0]["field"].endswith("rules")
    assert request(api, "GET", "/cases/settings/assignment-rules").body == {"rules": []}
    members = [f"user{n}@acme.example" for n in range(MAX_WORKGROUP_MEMBERS + 1)]
    crowded = request(api, "PUT", "/cases/settings/workgroups/BIG", body={"workgroup_id": "BIG", "members": members})
    assert crowded.status == 422
    assert crowded.body["errors"][0]["field"].endswith("members")
    assert request(api, "GET", "/cases/settings/workgroups/BIG").status == 404
    fits = {"workgroup_id": "BIG", "members": members[:MAX_WORKGROUP_MEMBERS]}
    assert request(api, "PUT", "/cases/settings/workgroups/BIG", body=fits).status == 200
