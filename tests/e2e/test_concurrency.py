"""End to end over HTTP: many clients at once get what DynamoDB would give them, on the local stack."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.e2e.conftest import RunningLocalStack

TIMEOUT = 60  # requests of one function wait their turn: the last of fifty waits for the other 49


def _all_at_once(tasks: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    start = threading.Barrier(len(tasks))

    def run(task: Callable[[], requests.Response]) -> requests.Response:
        start.wait()
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        return list(pool.map(run, tasks))


def _call(api: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"X-Hub-User": "alice@hub.example", **kwargs.pop("headers", {})}
    return requests.request(method, f"{api}{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def _ok(api: str, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
    answer = _call(api, method, path, **kwargs)
    assert answer.status_code == expected, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json()


def _every(api: str, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a listing: a page ({"items", "next_cursor"}) followed to its end, or a plain list."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = _ok(api, "GET", path, params={**params, **({"cursor": cursor} if cursor else {})})
        if isinstance(body, list):
            return body
        found += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return found


ADMIN = {"X-Hub-Roles": "administrator"}  # only an administrator writes case settings


def _case(api: str, tag: str) -> str:
    """A new billable case, taken by alice."""
    class_id, workgroup_id = f"CC-{tag}", f"WG-{tag}"
    _ok(
        api,
        "PUT",
        f"/cases/settings/classes/{class_id}",
        headers=ADMIN,
        json={"class_id": class_id, "billable": True, "labor_rate": 100, "round_time_minutes": 15},
    )
    _ok(
        api,
        "PUT",
        f"/cases/settings/workgroups/{workgroup_id}",
        headers=ADMIN,
        json={"workgroup_id": workgroup_id, "members": ["alice@hub.example"]},
    )
    account = _ok(api, "POST", "/records/Account", 201, json={"name": f"Concurrency {tag} Ltd"})["id"]
    draft = {"subject": "Scanner offline", "class_id": class_id, "account_id": account, "workgroup_id": workgroup_id}
    case_id: str = _ok(api, "POST", "/cases", 201, json=draft)["id"]
    _ok(api, "POST", f"/cases/{case_id}/transitions", json={"action": "take"})
    return case_id


def test_of_fifty_patches_with_the_same_if_match_exactly_one_is_applied(local_stack: RunningLocalStack) -> None:
    api = local_stack.api_url
    record = _ok(api, "POST", "/records/Account", 201, json={"name": "Fifty Writers B.V."})
    path = f"/records/Account/{record['id']}"

    def patch(number: int) -> Callable[[], requests.Response]:
        return lambda: _call(
            api, "PATCH", path, json={"phone": f"+31 10 000 {number:04d}"}, headers={"If-Match": '"1"'}
        )

    answers = _all_at_once([patch(number) for number in range(50)])
    assert Counter(answer.status_code for answer in answers) == {200: 1, 412: 49}
    winner = next(answer.json() for answer in answers if answer.status_code == 200)
    stored = _ok(api, "GET", path)
    assert (stored["version"], stored["fields"]["phone"]) == (2, winner["fields"]["phone"])


def test_of_ten_releases_of_one_case_one_succeeds_and_one_invoice_exists(local_stack: RunningLocalStack) -> None:
    api = local_stack.api_url
    case_id = _case(api, uuid.uuid4().hex[:8])
    _ok(api, "POST", f"/cases/{case_id}/transitions", json={"action": "open", "reason": "In Process"})
    _ok(
        api,
        "POST",
        f"/cases/{case_id}/activities",
        201,
        json={"type": "Work Item", "summary": "Reset the scanner", "time_spent_minutes": 30},
    )
    _ok(api, "POST", f"/cases/{case_id}/transitions", json={"action": "close", "reason": "Resolved"})

    def release() -> requests.Response:
        return _call(api, "POST", f"/cases/{case_id}/transitions", json={"action": "release"})

    answers = _all_at_once([release for _ in range(10)])
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses[200] == 1, [answer.text for answer in answers]
    assert set(statuses) <= {200, 409, 412}  # the others see the case released, or moved on under them
    invoices = [item for item in _every(api, "/records/Invoice", limit=100) if item["fields"]["case_id"] == case_id]
    assert len(invoices) == 1
    assert _ok(api, "GET", f"/cases/{case_id}")["fields"]["invoice_id"] == invoices[0]["id"]


def test_activities_logged_at_once_on_one_case_are_all_kept(local_stack: RunningLocalStack) -> None:
    api = local_stack.api_url
    case_id = _case(api, uuid.uuid4().hex[:8])
    _ok(api, "POST", f"/cases/{case_id}/transitions", json={"action": "open", "reason": "In Process"})
    summaries = [f"call {number}" for number in range(10)]

    def log(summary: str) -> Callable[[], requests.Response]:
        return lambda: _call(
            api, "POST", f"/cases/{case_id}/activities", json={"type": "Phone Call", "summary": summary}
        )

    answers = _all_at_once([log(summary) for summary in summaries])
    # A write that lost a race on the case is refused (409), never acknowledged and then lost.
    acknowledged = [summary for summary, answer in zip(summaries, answers, strict=True) if answer.status_code == 201]
    assert {answer.status_code for answer in answers} <= {201, 409}, [answer.text for answer in answers]
    kept = [activity["summary"] for activity in _every(api, f"/cases/{case_id}/activities")]
    assert sorted(kept) == sorted(acknowledged)
    assert len(acknowledged) == len(summaries)
