"""CaseComment as a real org has it (Object Reference, CaseComment): a comment on a case, published or internal,
whose parent never changes; the object takes no custom fields, so no external id: a client creates comments and
keeps their ids."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.emulator


def test_case_comment_fields_as_described(http, data_url):
    fields = {f["name"]: f for f in http.get(f"{data_url}/sobjects/CaseComment/describe").json()["fields"]}
    assert {"Id", "ParentId", "CommentBody", "IsPublished", "CreatedDate", "SystemModstamp"} <= set(fields)
    assert "Hub_Id__c" not in fields and "OwnerId" not in fields  # not customizable; a comment has no owner
    assert fields["ParentId"]["referenceTo"] == ["Case"]
    assert (fields["ParentId"]["createable"], fields["ParentId"]["updateable"]) == (True, False)
    assert (fields["CommentBody"]["type"], fields["CommentBody"]["length"]) == ("textarea", 4000)
    assert fields["IsPublished"]["updateable"] is True


def test_a_comment_is_internal_unless_published_and_keeps_its_case(http, data_url):
    case = http.post(f"{data_url}/sobjects/Case", json={"Subject": "Printer"}).json()["id"]
    comment = http.post(f"{data_url}/sobjects/CaseComment", json={"ParentId": case, "CommentBody": "Rebooted"})
    assert comment.status_code == 201, comment.text
    comment_id = comment.json()["id"]
    assert comment_id.startswith("00a")
    row = http.get(f"{data_url}/sobjects/CaseComment/{comment_id}").json()
    assert (row["ParentId"], row["CommentBody"], row["IsPublished"]) == (case, "Rebooted", False)
    other = http.post(f"{data_url}/sobjects/Case", json={"Subject": "Other"}).json()["id"]
    moved = http.patch(f"{data_url}/sobjects/CaseComment/{comment_id}", json={"ParentId": other})
    assert moved.status_code == 400
    assert moved.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    published = http.patch(f"{data_url}/sobjects/CaseComment/{comment_id}", json={"IsPublished": True})
    assert published.status_code == 204
    found = http.get(
        f"{data_url}/query", params={"q": f"SELECT Id, IsPublished FROM CaseComment WHERE ParentId = '{case}'"}
    )
    assert [(r["Id"], r["IsPublished"]) for r in found.json()["records"]] == [(comment_id, True)]


def test_a_comment_takes_no_external_id(http, data_url):
    case = http.post(f"{data_url}/sobjects/Case", json={"Subject": "Printer"}).json()["id"]
    refused = http.post(
        f"{data_url}/sobjects/CaseComment", json={"ParentId": case, "CommentBody": "x", "Hub_Id__c": "N-1"}
    )
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALID_FIELD"
