"""End to end over HTTP: the hub as `make run` starts it, answering the records API at its gateway."""

from __future__ import annotations

import requests

from tests.e2e.conftest import RunningLocalStack


def test_create_read_and_sync_status_of_an_account(local_stack: RunningLocalStack) -> None:
    api = local_stack.api_url
    created = requests.post(
        f"{api}/records/Account",
        json={"name": "Van Dijk Logistics B.V.", "industry": "Transportation"},
        headers={"X-Hub-User": "alice"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["updated_by"] == "alice"
    assert created.headers["ETag"] == '"1"'

    read = requests.get(f"{api}/records/Account/{record['id']}", timeout=10)
    assert read.status_code == 200
    assert read.json()["fields"]["name"] == "Van Dijk Logistics B.V."

    status = requests.get(f"{api}/records/Account/{record['id']}/sync-status", timeout=10).json()
    assert (status["status"], status["operation"]) == ("Modified Locally", "Insert")
    assert status["import_scenario"] == "Import Account from Salesforce"

    changed = requests.patch(
        f"{api}/records/Account/{record['id']}",
        json={"phone": "+31 10 123 4567"},
        headers={"If-Match": '"1"'},
        timeout=10,
    )
    assert changed.status_code == 200
    stale = requests.patch(
        f"{api}/records/Account/{record['id']}",
        json={"phone": "+31 10 000 0000"},
        headers={"If-Match": '"1"'},
        timeout=10,
    )
    assert stale.status_code == 412
    status = requests.get(f"{api}/records/Account/{record['id']}/sync-status", timeout=10).json()
    # Never synced yet, so the pending operation is still the Insert, now of version 2.
    assert (status["status"], status["operation"], status["record_version"]) == ("Modified Locally", "Insert", 2)


def test_demo_data_is_seeded_and_errors_are_clear(local_stack: RunningLocalStack) -> None:
    api = local_stack.api_url
    names = [item["fields"]["name"] for item in requests.get(f"{api}/records/Account", timeout=10).json()["items"]]
    assert "Nordlicht Maschinenbau GmbH" in names
    assert requests.get(f"{api}/records/Spaceship", timeout=10).status_code == 404
    invalid = requests.post(
        f"{api}/records/Account", data="{not json", headers={"content-type": "application/json"}, timeout=10
    )
    assert invalid.status_code == 400
    assert requests.get(f"{api}/no/such/route", timeout=10).json() == {"message": "Not Found"}
    health = requests.get(f"{api}/__local/health", timeout=10).json()
    assert health["api"] == api


def test_demo_case_settings_let_a_new_user_open_a_case_right_away(local_stack: RunningLocalStack) -> None:
    api = local_stack.api_url
    assert requests.get(f"{api}/cases/settings/classes/SUPPORT", timeout=10).json()["billable"] is True
    assert "alice" in requests.get(f"{api}/cases/settings/workgroups/L1", timeout=10).json()["members"]
    accounts = requests.get(f"{api}/records/Account", timeout=10).json()["items"]
    van_dijk = next(item["id"] for item in accounts if item["fields"]["name"] == "Van Dijk Logistics B.V.")
    contacts = requests.get(f"{api}/records/Contact", timeout=10).json()["items"]
    anouk = next(item["id"] for item in contacts if item["fields"]["last_name"] == "de Vries")
    created = requests.post(
        f"{api}/cases",
        json={"subject": "Label printer jams", "class_id": "SUPPORT", "account_id": van_dijk, "workgroup_id": "L1"},
        headers={"X-Hub-User": "alice"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.json()["fields"]["contact_id"] == anouk  # the account's only active contact


def test_only_an_administrator_changes_settings_on_the_local_stack(local_stack: RunningLocalStack) -> None:
    """X-Hub-Roles names the caller's roles (the JWT groups claim in the cloud); a user without it has none."""
    api = local_stack.api_url
    workgroup = {"workgroup_id": "ROLES", "members": ["alice"]}
    refused = requests.put(
        f"{api}/cases/settings/workgroups/ROLES", json=workgroup, headers={"X-Hub-User": "alice"}, timeout=10
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["required_roles"] == ["administrator"]
    as_agent = {"X-Hub-User": "alice", "X-Hub-Roles": "agent"}
    assert (
        requests.put(f"{api}/cases/settings/workgroups/ROLES", json=workgroup, headers=as_agent, timeout=10).status_code
        == 403
    )
    as_admin = {"X-Hub-User": "root", "X-Hub-Roles": "agent, administrator"}
    accepted = requests.put(f"{api}/cases/settings/workgroups/ROLES", json=workgroup, headers=as_admin, timeout=10)
    assert accepted.status_code == 200, accepted.text
    # Without either header the caller is the stack's default user, an administrator (README, Local stack).
    assert requests.put(f"{api}/cases/settings/workgroups/ROLES", json=workgroup, timeout=10).status_code == 200
