"""Bulk API 2.0: simple-salesforce's bulk2 helpers and the raw job lifecycle, results CSVs and query locators."""

from __future__ import annotations

import csv
import io

import pytest

pytestmark = pytest.mark.emulator


def parse(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_simple_salesforce_bulk2_insert_upsert_query(sf, emu):
    records = [{"Name": f"Bulk {i}", "Hub_Id__c": f"B-{i}", "AnnualRevenue": str(i * 10)} for i in range(5)]
    records.append({"Name": "", "Hub_Id__c": "B-bad", "AnnualRevenue": "1"})
    inserted = sf.bulk2.Account.insert(records=records, wait=0)
    assert inserted[0]["numberRecordsProcessed"] == 6
    assert inserted[0]["numberRecordsFailed"] == 1
    assert inserted[0]["numberRecordsTotal"] == 6
    job_id = inserted[0]["job_id"]
    ok = parse(sf.bulk2.Account.get_successful_records(job_id))
    assert [r["sf__Created"] for r in ok] == ["true"] * 5
    assert all(r["sf__Id"].startswith("001") for r in ok) and ok[0]["Name"] == "Bulk 0"
    failed = parse(sf.bulk2.Account.get_failed_records(job_id))
    assert failed[0]["sf__Error"] == "REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"
    assert failed[0]["Hub_Id__c"] == "B-bad"
    assert parse(sf.bulk2.Account.get_unprocessed_records(job_id)) == []

    upserted = sf.bulk2.Account.upsert(
        records=[{"Hub_Id__c": "B-0", "Name": "Bulk zero"}, {"Hub_Id__c": "B-9", "Name": "Bulk nine"}],
        external_id_field="Hub_Id__c",
        wait=0,
    )
    assert upserted[0]["numberRecordsFailed"] == 0
    created = {
        r["Hub_Id__c"]: r["sf__Created"] for r in parse(sf.bulk2.Account.get_successful_records(upserted[0]["job_id"]))
    }
    assert created == {"B-0": "false", "B-9": "true"}

    pages = list(
        sf.bulk2.Account.query("SELECT Id, Name, AnnualRevenue FROM Account ORDER BY Name", max_records=4, wait=0)
    )
    assert len(pages) == 2
    rows = [row for page in pages for row in parse(page)]
    assert [r["Name"] for r in rows] == [*sorted(f"Bulk {i}" for i in range(1, 5)), "Bulk nine", "Bulk zero"]
    assert rows[0]["AnnualRevenue"] == "10.0"

    ids = [{"Id": r["Id"]} for r in rows[:2]]
    assert sf.bulk2.Account.delete(records=ids, wait=0)[0]["numberRecordsProcessed"] == 2
    everything = [
        r for page in sf.bulk2.Account.query_all("SELECT Id, IsDeleted FROM Account", wait=0) for r in parse(page)
    ]
    assert sorted(r["IsDeleted"] for r in everything) == ["false"] * 4 + ["true"] * 2


def test_raw_ingest_lifecycle_and_job_info(http, data_url, emu):
    job = http.post(
        f"{data_url}/jobs/ingest",
        json={
            "object": "Contact",
            "operation": "insert",
            "contentType": "CSV",
            "lineEnding": "CRLF",
            "columnDelimiter": "SEMICOLON",
        },
    ).json()
    assert job["state"] == "Open" and job["id"].startswith("750")
    assert job["contentUrl"] == f"services/data/v60.0/jobs/ingest/{job['id']}/batches"
    assert {"apiVersion", "concurrencyMode", "lineEnding", "columnDelimiter", "createdById"} <= set(job)
    upload = http.put(
        f"{data_url}/jobs/ingest/{job['id']}/batches",
        data=b"LastName;Email\r\nOne;a@b.co\r\nTwo;bad\r\n",
        headers={"Content-Type": "text/csv"},
    )
    assert upload.status_code == 201
    closed = http.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"
    emu.advance_clock(1)  # past the processing delay (bulk_processing_delay_seconds, on the org's clock)
    info = http.get(f"{data_url}/jobs/ingest/{job['id']}").json()
    assert info["state"] == "JobComplete" and info["jobType"] == "V2Ingest"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    failed = http.get(f"{data_url}/jobs/ingest/{job['id']}/failedResults")
    assert failed.headers["Content-Type"].startswith("text/csv")
    assert failed.text.startswith('"sf__Id";"sf__Error";"LastName";"Email"\r\n')
    assert "INVALID_EMAIL_ADDRESS" in failed.text
    assert http.delete(f"{data_url}/jobs/ingest/{job['id']}").status_code == 204
    assert http.get(f"{data_url}/jobs/ingest/{job['id']}").status_code == 404


def test_ingest_update_empty_and_na_values(http, data_url, emu):
    record_id = emu.seed("Account", [{"Name": "Keep", "Phone": "1", "Website": "https://x.example"}])[0]
    job = http.post(f"{data_url}/jobs/ingest", json={"object": "Account", "operation": "update"}).json()
    http.put(
        f"{data_url}/jobs/ingest/{job['id']}/batches",
        data=f"Id,Phone,Website\n{record_id},,#N/A\n",
        headers={"Content-Type": "text/csv"},
    )
    http.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    record = emu.records("Account")[0]
    assert (record["Name"], record["Phone"], record["Website"]) == ("Keep", "1", None)


def test_ingest_errors_and_abort(http, data_url):
    bad_object = http.post(f"{data_url}/jobs/ingest", json={"object": "Nope", "operation": "insert"})
    assert bad_object.status_code == 400
    bad_upsert = http.post(
        f"{data_url}/jobs/ingest", json={"object": "Account", "operation": "upsert", "externalIdFieldName": "Name"}
    )
    assert bad_upsert.status_code == 400
    job = http.post(f"{data_url}/jobs/ingest", json={"object": "Account", "operation": "insert"}).json()
    aborted = http.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "Aborted"}).json()
    assert aborted["state"] == "Aborted"
    assert http.patch(f"{data_url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).status_code == 400


def test_raw_query_job_locators(http, data_url, emu):
    emu.seed("Lead", [{"LastName": f"L{i}", "Company": "C, Inc."} for i in range(5)])
    job = http.post(
        f"{data_url}/jobs/query",
        json={"operation": "query", "query": "SELECT Id, LastName, Company FROM Lead ORDER BY LastName"},
    )
    assert job.status_code == 200 and job.json()["state"] == "UploadComplete"
    job_id = job.json()["id"]
    emu.advance_clock(1)
    assert http.get(f"{data_url}/jobs/query/{job_id}").json()["state"] == "JobComplete"
    page = http.get(f"{data_url}/jobs/query/{job_id}/results", params={"maxRecords": 3})
    assert page.headers["Sforce-NumberOfRecords"] == "3"
    assert page.headers["Sforce-Locator"] not in ("", "null")
    assert page.text.splitlines()[:2] == ['"Id","LastName","Company"', page.text.splitlines()[1]]
    assert '"C, Inc."' in page.text
    last = http.get(
        f"{data_url}/jobs/query/{job_id}/results", params={"maxRecords": 3, "locator": page.headers["Sforce-Locator"]}
    )
    assert last.headers["Sforce-Locator"] == "null" and last.headers["Sforce-NumberOfRecords"] == "2"
    other_version = http.get(f"{data_url.replace('v60.0', 'v59.0')}/jobs/query/{job_id}/results")
    assert other_version.status_code == 409
    invalid = http.post(f"{data_url}/jobs/query", json={"operation": "query", "query": "SELECT Nope FROM Lead"})
    assert invalid.status_code == 400 and invalid.json()[0]["errorCode"] == "INVALID_FIELD"
