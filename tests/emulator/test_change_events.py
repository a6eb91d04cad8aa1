"""Change events as Salesforce documents them: bodies per operation, changeOrigin, diffs of large text fields.

Sources (Change Data Capture Developer Guide unless noted):
- "Change Event Body Fields", developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/
  change_data_capture/cdc_event_fields_body.htm, and Streaming API Developer Guide, "Differences Between Change
  Events Received with Streaming API vs. Pub/Sub API" (…/api_streaming/cdc_event_diff_pubsub_cometd.htm).
- "ChangeEventHeader Fields", …/change_data_capture/cdc_event_fields_header.htm (changeOrigin, diffFields);
  REST API Developer Guide, "Call Options Header" (…/api_rest/headers_calloptions.htm).
- "Sending Data Differences for Fields of Updated Records" (…/cdc_data_diff.htm), "Data Differences in Event
  Fields" (…/cdc_data_diff_event_fields.htm), "How to Reconstruct a Field from Its Diff Value" and
  "Considerations for Newline Characters and Computing the SHA-256 Hash".
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from local.sf_emulator import EmulatorConfig, RunningEmulator, start_emulator
from local.sf_emulator.textdiff import unified_diff
from tests.emulator.conftest import API, session_for
from tests.support.waiting import wait_until

pytestmark = pytest.mark.emulator

HUB = "hub-sync"
UI_ORIGIN = "com/salesforce/api/soap/64.0;client=SfdcInternalAPI/"
_HUNK = re.compile(r"^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$")


def apply_salesforce_diff(old: str, diff: str) -> str:
    """Rebuild a field from its diff the way the guide describes (independent of the emulator's code).

    The value is split into lines at its line breaks, each hunk replaces old lines by new ones, the lines are
    joined with the original newline sequence, and the SHA-256 after `+++ ` must match the result.
    """
    lines = diff.split("\n")
    assert lines[0] == "--- " and lines[1].startswith("+++ "), diff[:80]
    expected_hash = lines[1][4:]
    assert lines[-1] == ""  # every diff line ends with \n
    newline = "\r\n" if "\r\n" in old else "\n"
    source = re.split(r"\r?\n", old)
    result: list[str] = []
    consumed = 0  # old lines copied or replaced so far
    index = 2
    while index < len(lines) - 1:
        match = _HUNK.match(lines[index])
        assert match, lines[index]
        old_start, old_count, _, new_count = (int(group) for group in match.groups())
        # An empty old range names the line before it (GNU convention): the hunk goes after that line.
        first_old = old_start - 1 if old_count else old_start
        result += source[consumed:first_old]
        body = lines[index + 1 : index + 1 + old_count + new_count]
        assert [line[1:] for line in body[:old_count] if line.startswith("-")] == source[
            first_old : first_old + old_count
        ], "the diff does not apply to the old value"
        result += [line[1:] for line in body[old_count:] if line.startswith("+")]
        consumed = first_old + old_count
        index += 1 + old_count + new_count
    result += source[consumed:]
    rebuilt = newline.join(result)
    assert hashlib.sha256(rebuilt.encode()).hexdigest() == expected_hash, "hash mismatch after applying the diff"
    return rebuilt


def long_text(lines: int = 30, newline: str = "\n", tag: str = "") -> str:
    return newline.join(
        f"Paragraph {n}{tag}: the pump in hall {n} was serviced and its seals replaced." for n in range(lines)
    )


@pytest.fixture
def api(emu: RunningEmulator) -> Any:
    http = session_for(emu, emu.issue_token())
    http.headers["Sforce-Call-Options"] = f"client={HUB}"
    return http


def events_for(emu: RunningEmulator, count: int) -> list[dict[str, Any]]:
    events = wait_until(lambda: emu.cdc_events() if len(emu.cdc_events()) >= count else None)
    return [event["detail"]["payload"] for event in events]


# ------------------------------------------------------------------ bodies per operation


def test_update_and_delete_events_carry_only_what_changed(emu, api):
    base = f"{emu.url}/services/data/{API}"
    record_id = api.post(
        f"{base}/sobjects/Account",
        json={"Name": "Nordlicht GmbH", "Phone": "+49 1", "BillingCity": "Bremen", "BillingStreet": "Hafen 1"},
    ).json()["id"]
    api.patch(f"{base}/sobjects/Account/{record_id}", json={"Phone": None, "BillingCity": "Kiel"})
    emu.user_change("update", "Account", record_id, {"Industry": "Energy"})  # another user: LastModifiedById too
    api.delete(f"{base}/sobjects/Account/{record_id}")
    create, update, ui_update, delete = events_for(emu, 4)

    # CREATE: "all non-empty fields and system fields": empty ones (Fax, Description …) are left out
    assert create["Name"] == "Nordlicht GmbH" and create["BillingAddress"] == {"Street": "Hafen 1", "City": "Bremen"}
    assert {"CreatedDate", "CreatedById", "OwnerId", "LastModifiedDate"} <= set(create)
    assert not {"Fax", "Description", "ShippingAddress", "Industry"} & set(create)
    assert None not in create.values()

    # UPDATE: "only the changed fields … empty fields only if they were updated to an empty value (null)";
    # LastModifiedById only when another user saved the record
    assert set(update) == {"ChangeEventHeader", "Phone", "BillingAddress", "LastModifiedDate"}
    assert update["Phone"] is None and update["BillingAddress"] == {"City": "Kiel"}
    assert update["ChangeEventHeader"]["nulledFields"] == ["Phone"]
    assert set(ui_update) == {"ChangeEventHeader", "Industry", "LastModifiedDate", "LastModifiedById"}
    with pytest.raises(KeyError):
        update["Name"]  # a consumer reading payload["X"] fails as it would on a real event

    # DELETE: "the body doesn't include any fields"
    assert set(delete) == {"ChangeEventHeader"}


def test_undelete_carries_the_non_empty_fields_of_the_record(emu):
    record_id = emu.user_change("create", "Contact", fields={"LastName": "Berg", "Email": "b@x.example"})["id"]
    emu.user_change("delete", "Contact", record_id)
    emu.user_change("undelete", "Contact", record_id)
    undelete = events_for(emu, 3)[2]
    assert undelete["ChangeEventHeader"]["changeType"] == "UNDELETE"
    assert undelete["Name"] == {"LastName": "Berg"} and undelete["Email"] == "b@x.example"
    assert "Phone" not in undelete and None not in undelete.values()


def test_pubsub_style_bodies_are_an_option():
    """Pub/Sub API clients get every field, null when unchanged or empty (the option for that shape)."""
    with start_emulator(EmulatorConfig(port=0, cdc_include_unchanged_fields=True)) as emu:
        record_id = emu.user_change("create", "Account", fields={"Name": "Full"})["id"]
        emu.user_change("update", "Account", record_id, {"Phone": "1"})
        create, update = events_for(emu, 2)
    assert create["Fax"] is None and create["ShippingAddress"] is None
    assert update["Name"] is None and update["Phone"] == "1"
    assert update["ChangeEventHeader"]["changedFields"] == ["Phone", "LastModifiedDate"]


# ------------------------------------------------------------------ changeOrigin


def test_change_origin_says_client_only_for_writes_that_sent_the_call_options_header(emu, api):
    base = f"{emu.url}/services/data/{API}"
    plain = session_for(emu, emu.issue_token())
    api.post(f"{base}/sobjects/Account", json={"Name": "tagged row"})
    plain.post(f"{base}/sobjects/Account", json={"Name": "untagged row"})
    emu.user_change("create", "Account", fields={"Name": "from the UI"})
    job = api.post(f"{base}/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    api.put(f"{base}/jobs/ingest/{job['id']}/batches", data=b"Name\nbulk row\n", headers={"Content-Type": "text/csv"})
    api.patch(f"{base}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    origins = [p["ChangeEventHeader"]["changeOrigin"] for p in events_for(emu, 4)]
    assert origins == [
        f"com/salesforce/api/rest/60.0;client={HUB}",
        "com/salesforce/api/rest/60.0",
        UI_ORIGIN,  # Lightning Experience: an API origin, but never the hub's client id
        f"com/salesforce/api/bulkapi/60.0;client={HUB}",
    ]


def test_collections_and_composite_writes_are_untagged_by_default(emu, api):
    """Sforce-Call-Options is documented for rows, rows by external id, query and Bulk API 2.0, not for
    Collections or Composite: by default their changes carry no client (echo suppression must not need it)."""
    base = f"{emu.url}/services/data/{API}"
    api.post(f"{base}/composite/sobjects", json={"records": [{"attributes": {"type": "Account"}, "Name": "coll"}]})
    subrequest = {
        "method": "POST",
        "url": f"/services/data/{API}/sobjects/Account",
        "referenceId": "one",
        "body": {"Name": "comp"},
        "httpHeaders": {"Sforce-Call-Options": f"client={HUB}"},
    }
    api.post(f"{base}/composite", json={"compositeRequest": [subrequest]})
    origins = [p["ChangeEventHeader"]["changeOrigin"] for p in events_for(emu, 2)]
    assert origins == ["com/salesforce/api/rest/60.0", "com/salesforce/api/rest/60.0"]


def test_tagging_collections_writes_is_an_option():
    with start_emulator(EmulatorConfig(port=0, cdc_client_in_collections=True)) as emu:
        http = session_for(emu, emu.issue_token())
        http.headers["Sforce-Call-Options"] = f"client={HUB}"
        records = {"records": [{"attributes": {"type": "Account"}, "Name": "a"}]}
        http.post(f"{emu.url}/services/data/{API}/composite/sobjects", json=records)
        origins = [p["ChangeEventHeader"]["changeOrigin"] for p in events_for(emu, 1)]
    assert origins == [f"com/salesforce/api/rest/60.0;client={HUB}"]


# ------------------------------------------------------------------ diffs of large text fields


def test_a_small_edit_of_a_long_description_arrives_as_a_diff(emu, api):
    base = f"{emu.url}/services/data/{API}"
    old = long_text()
    new_lines = old.split("\n")
    new_lines[3] = "Paragraph 3: the pump in hall 3 was REPLACED."
    new_lines.insert(10, "A new line after paragraph 9.")
    del new_lines[20]
    new = "\n".join(new_lines)
    record_id = api.post(f"{base}/sobjects/Account", json={"Name": "Diff AS", "Description": old}).json()["id"]
    api.patch(f"{base}/sobjects/Account/{record_id}", json={"Description": new})
    create, update = events_for(emu, 2)

    assert create["Description"] == old  # CREATE always carries whole values
    header = update["ChangeEventHeader"]
    assert header["diffFields"] == ["Description"] and "Description" in header["changedFields"]
    diff = update["Description"]
    assert diff.startswith(f"--- \n+++ {hashlib.sha256(new.encode()).hexdigest()}\n@@ -4,1 +4,1 @@\n-")
    assert "\n@@ -10,0 +11,1 @@\n+A new line after paragraph 9.\n" in diff  # a pure insertion
    assert len(diff) < len(new)
    assert apply_salesforce_diff(old, diff) == new
    assert emu.records("Account")[0]["Description"] == new  # the record itself holds the whole value


def test_case_comments_with_windows_newlines_rebuild_with_their_own_line_breaks(emu, api):
    base = f"{emu.url}/services/data/{API}"
    old = long_text(40, "\r\n", tag=" (case)")
    new = old.replace("Paragraph 7 (case)", "Paragraph 7 (case, amended)")
    case_id = api.post(f"{base}/sobjects/Case", json={"Subject": "Pump", "Comments": old}).json()["id"]
    api.patch(f"{base}/sobjects/Case/{case_id}", json={"Comments": new})
    update = events_for(emu, 2)[1]
    assert update["ChangeEventHeader"]["diffFields"] == ["Comments"]
    assert "\r" not in update["Comments"]  # lines are split at the line breaks; the consumer restores them
    assert apply_salesforce_diff(old, update["Comments"]) == new


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("x" * 600 + "\nshort", "y" * 600 + "\nshort", "under 1,000 characters"),
        (long_text(), long_text() + "\n" + long_text(), "length grows by more than 50%"),
        (long_text(20), long_text(20, tag="!"), "more than 25% of the lines changed"),
        (None, long_text(), "no old value to diff against"),
    ],
)
def test_whole_values_when_salesforce_would_not_send_a_diff(emu, api, old, new, why):
    base = f"{emu.url}/services/data/{API}"
    record_id = api.post(f"{base}/sobjects/Account", json={"Name": "Whole", "Description": old}).json()["id"]
    api.patch(f"{base}/sobjects/Account/{record_id}", json={"Description": new})
    update = events_for(emu, 2)[1]
    assert update["ChangeEventHeader"]["diffFields"] == [], why
    assert update["Description"] == new, why


def test_a_diff_that_would_not_be_shorter_is_not_sent():
    """ "The diff's length is greater than the length of the new value": one-character lines, every fifth changed
    (20% of the lines, so only the length rule applies), cost more as hunks than as the value."""
    old = "a\n" * 600
    new = "".join("b\n" if n % 5 == 0 else "a\n" for n in range(600))
    assert len(new) >= 1000 and unified_diff(old, new) is None
    assert unified_diff(old, new.replace("b", "a", 119)) is not None  # one changed line: a short diff


def test_diffs_can_be_switched_off():
    with start_emulator(EmulatorConfig(port=0, cdc_diff_large_text=False)) as emu:
        old = long_text()
        record_id = emu.user_change("create", "Account", fields={"Name": "n", "Description": old})["id"]
        emu.user_change("update", "Account", record_id, {"Description": old.replace("hall 5", "hall five")})
        update = events_for(emu, 2)[1]
    assert update["ChangeEventHeader"]["diffFields"] == []
    assert update["Description"] == old.replace("hall 5", "hall five")
