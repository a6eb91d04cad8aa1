"""Bulk API 2.0: ingest jobs (CSV upload, UploadComplete, results CSVs) and query jobs (CSV pages by locator)."""

from __future__ import annotations

import base64
import csv
import io
import random
from collections import Counter
from typing import Any

from . import values
from .errors import SalesforceError, method_not_allowed, not_found
from .ids import is_valid_id
from .org import Call, Org, Reply
from .rest import body_object, run_soql
from .store import Transaction, duplicate_external_id, ext_key

CSV_TYPE = "text/csv"
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
CHUNK = 200  # Salesforce commits ingest data in chunks of 200 records


def _job_error(message: str, code: str = "INVALIDJOB") -> SalesforceError:
    return SalesforceError(400, code, message, include_fields=False)


def handle(org: Org, call: Call, kind: str, parts: list[str]) -> Reply:
    if not parts:
        if call.method == "POST":
            return _create(org, call, kind)
        if call.method == "GET":
            with org.lock:
                jobs = [_info(org, j, short=True) for j in org.bulk_jobs.values() if j["kind"] == kind]
            return Reply(200, {"done": True, "records": jobs, "nextRecordsUrl": None})
        raise method_not_allowed(call.method, ["GET", "POST"])
    with org.lock:
        job = org.bulk_jobs.get(parts[0])
    if job is None or job["kind"] != kind:
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist", include_fields=False)
    if len(parts) == 1:
        if call.method == "GET":
            return Reply(200, _info(org, job))
        if call.method == "PATCH":
            return _set_state(org, call, job)
        if call.method == "DELETE":
            if _state(org, job) in ("Open", "UploadComplete", "InProgress"):
                raise _job_error("Job must be aborted or completed before it is deleted", "INVALIDJOBSTATE")
            with org.lock:
                org.bulk_jobs.pop(job["id"], None)
            return Reply(204)
        raise method_not_allowed(call.method, ["GET", "PATCH", "DELETE"])
    resource = parts[1]
    if kind == "ingest" and resource == "batches" and call.method == "PUT":
        return _upload(call, job)
    if call.method != "GET":
        raise method_not_allowed(call.method, ["GET"])
    if kind == "ingest" and resource.lower() in ("successfulresults", "failedresults", "unprocessedrecords"):
        return _ingest_results(org, job, resource.lower())
    if kind == "query" and resource == "results":
        return _query_results(org, call, job)
    raise not_found()


def _create(org: Org, call: Call, kind: str) -> Reply:
    body = body_object(call)
    delimiter = str(body.get("columnDelimiter", "COMMA")).upper()
    line_ending = str(body.get("lineEnding", "LF")).upper()
    if delimiter not in DELIMITERS:
        raise _job_error(f"InvalidJob : Invalid column delimiter: {delimiter}")
    if line_ending not in LINE_ENDINGS:
        raise _job_error(f"InvalidJob : Invalid line ending: {line_ending}")
    if str(body.get("contentType", "CSV")).upper() != "CSV":
        raise _job_error("InvalidJob : Only CSV is supported")
    now = org.clock.now()
    job: dict[str, Any] = {
        "id": org.ids.new("750"),
        "kind": kind,
        "operation": body.get("operation"),
        "createdById": call.user_id,
        "createdDate": now,
        "systemModstamp": now,
        "state": "Open",
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(call.version),
        "lineEnding": line_ending,
        "columnDelimiter": delimiter,
        "origin": org.origin(call, api="bulkapi"),
        "data": [],
        "results": {"successful": [], "failed": [], "unprocessed": []},
        "processed": 0,
        "failed": 0,
        "ready_at": 0.0,
        "started_at": 0.0,
    }
    if kind == "ingest":
        obj = org.store.object(str(body.get("object", "")))
        if obj is None:
            raise _job_error(f"InvalidJob : Unable to find object: {body.get('object')}")
        if job["operation"] not in INGEST_OPERATIONS:
            raise _job_error(f"InvalidJob : Invalid operation: {job['operation']}")
        job["object"] = obj.name
        if job["operation"] == "upsert":
            ext = obj.field(str(body.get("externalIdFieldName", "")))
            if ext is None or not (ext.external_id or ext.type == "id"):
                raise _job_error(
                    f"InvalidJob : Field name provided, {body.get('externalIdFieldName')} is not an "
                    f"External ID or indexed field for {obj.name}"
                )
            job["externalIdFieldName"] = ext.name
        job["contentUrl"] = f"services/data/v{call.version}/jobs/ingest/{job['id']}/batches"
    else:
        if job["operation"] not in ("query", "queryAll"):
            raise _job_error(f"InvalidJob : Invalid operation: {job['operation']}")
        text = str(body.get("query") or "")
        query, rows = run_soql(org, text, job["operation"] == "queryAll")
        if query.count_only or query.aggregate:
            raise _job_error("Aggregate queries are not supported by Bulk API 2.0", "API_ERROR")
        assert query.obj is not None
        job["object"] = query.obj.name
        job["query"] = text
        job["columns"] = [f.name for f in query.selected]
        job["rows"] = [[r.get(name) for name in job["columns"]] for r in rows]
        job["processed"] = len(rows)
        job["state"] = "UploadComplete"
        _schedule(org, job)
    with org.lock:
        org.bulk_jobs[job["id"]] = job
    created = _info(org, job, short=True)
    created["state"] = job["state"]  # the answer to the create call shows the state at creation
    return Reply(200, created)


def _schedule(org: Org, job: dict[str, Any]) -> None:
    """The job leaves the queue (UploadComplete) halfway through the processing delay and completes at its end,
    measured on the org's clock, so advance_clock() finishes it at once ("Bulk API 2.0 Job states": UploadComplete,
    InProgress, then JobComplete, Failed or Aborted)."""
    delay = max(org.config.bulk_processing_delay_seconds, 0.0)
    now = _now(org)
    job.update(started_at=now + delay / 2, ready_at=now + delay)


def _now(org: Org) -> float:
    return org.clock.now_precise().timestamp()


def _state(org: Org, job: dict[str, Any]) -> str:
    processed = (job["kind"] == "ingest" and job.get("done")) or job["kind"] == "query"
    if job["state"] in ("UploadComplete", "InProgress") and processed:
        now = _now(org)
        if now >= job["ready_at"]:
            return "JobComplete"
        return "InProgress" if now >= job["started_at"] else "UploadComplete"
    return str(job["state"])


def _info(org: Org, job: dict[str, Any], short: bool = False) -> dict[str, Any]:
    state = _state(org, job)
    info: dict[str, Any] = {
        "id": job["id"],
        "operation": job["operation"],
        "object": job["object"],
        "createdById": job["createdById"],
        "createdDate": values.format_datetime(job["createdDate"]),
        "systemModstamp": values.format_datetime(job["systemModstamp"]),
        "state": state,
    }
    if "externalIdFieldName" in job:
        info["externalIdFieldName"] = job["externalIdFieldName"]
    info.update({"concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": job["apiVersion"]})
    if "contentUrl" in job:
        info["contentUrl"] = job["contentUrl"]
    info.update({"lineEnding": job["lineEnding"], "columnDelimiter": job["columnDelimiter"]})
    if short:
        if job["kind"] == "ingest":
            info["jobType"] = "V2Ingest"
        return info
    complete = state == "JobComplete"
    info["jobType"] = "V2Ingest" if job["kind"] == "ingest" else "V2Query"
    info["numberRecordsProcessed"] = job["processed"] if complete else 0
    if job["kind"] == "ingest":
        info["numberRecordsFailed"] = job["failed"] if complete else 0
    info.update({"retries": 0, "totalProcessingTime": 0})
    if job["kind"] == "ingest":
        info.update({"apiActiveProcessingTime": 0, "apexProcessingTime": 0})
    else:
        info["isPkChunkingSupported"] = True
    if job.get("errorMessage"):
        info["errorMessage"] = job["errorMessage"]
    return info


def _upload(call: Call, job: dict[str, Any]) -> Reply:
    if job["state"] != "Open":
        raise _job_error("Job is not open for data upload", "INVALIDJOBSTATE")
    if not call.headers.get("content-type", "").lower().startswith("text/csv"):
        raise SalesforceError(400, "INVALIDCONTENTTYPE", "Content-Type must be text/csv", include_fields=False)
    job["data"].append(call.body.decode("utf-8-sig"))
    return Reply(201, b"", content_type="text/plain")


def _set_state(org: Org, call: Call, job: dict[str, Any]) -> Reply:
    wanted = body_object(call).get("state")
    if wanted == "Aborted":
        if _state(org, job) in ("JobComplete", "Failed", "Aborted"):
            raise _job_error("Job is already finished", "INVALIDJOBSTATE")
        job["state"] = "Aborted"
    elif wanted == "UploadComplete" and job["kind"] == "ingest":
        if job["state"] != "Open":
            raise _job_error("Job is not in the Open state", "INVALIDJOBSTATE")
        job["state"] = "UploadComplete"
        reply = Reply(200, _info(org, job, short=True))
        _process(org, job)
        job["systemModstamp"] = org.clock.now()
        return reply
    else:
        raise _job_error(f"InvalidJob : Invalid state: {wanted}", "INVALIDJOBSTATE")
    job["systemModstamp"] = org.clock.now()
    return Reply(200, _info(org, job, short=True))


def _rows(job: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header: list[str] = []
    rows: list[list[str]] = []
    for chunk in job["data"]:
        reader = csv.reader(io.StringIO(chunk, newline=""), delimiter=DELIMITERS[job["columnDelimiter"]])
        lines = [line for line in reader if line]
        if not lines:
            continue
        if not header:
            header = lines[0]
        elif lines[0] != header:
            raise _job_error("InvalidBatch : All batches must have the same column header", "INVALIDBATCH")
        rows.extend(lines[1:])
    return header, rows


def _process(org: Org, job: dict[str, Any]) -> None:
    try:
        header, rows = _rows(job)
    except SalesforceError as exc:
        job.update(state="Failed", errorMessage=exc.message, done=True)
        return
    obj = org.schemas[job["object"].lower()]
    unknown = [h for h in header if obj.field(h) is None]
    if not header or unknown:
        job.update(
            state="Failed", errorMessage=f"InvalidBatch : Field name not found : {', '.join(unknown)}", done=True
        )
        return
    job["header"] = header
    operation = job["operation"]
    ext_field = obj.field(job.get("externalIdFieldName", "")) if operation == "upsert" else None
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        repeated = _repeated_external_ids(header, chunk, ext_field) if ext_field is not None else set()
        with org.store.transaction(job["createdById"], job["origin"]) as txn:
            for row in chunk:
                padded = row + [""] * (len(header) - len(row))
                data = {}
                for name, raw in zip(header, padded, strict=False):
                    if raw == "":
                        continue  # empty = leave unchanged / unset; #N/A = set null
                    data[name] = None if raw == "#N/A" else raw
                savepoint = txn.savepoint()
                try:
                    fault = org.faults.pick("bulk_ingest", "/jobs/ingest", "PATCH", scope="record")
                    if fault is not None and fault.error_code:
                        raise fault.error(str(data.get("Id", "")))
                    if repeated and ext_field is not None:
                        value = _cell(header, padded, ext_field.name)
                        if ext_key(ext_field, value) in repeated:
                            raise duplicate_external_id(value)
                    record_id, created = _apply(org, txn, obj, operation, ext_field, data)
                    job["results"]["successful"].append([record_id, "true" if created else "false", *padded])
                except SalesforceError as exc:
                    org.store.rollback_to(txn, savepoint)
                    failed_id = str(data.get("Id") or "")
                    error = f"{exc.code}:{exc.message}:{','.join(exc.fields)} --"
                    job["results"]["failed"].append([failed_id, error, *padded])
                    job["failed"] += 1
                job["processed"] += 1
    job.update(done=True, state="UploadComplete")
    _schedule(org, job)


def _cell(header: list[str], row: list[str], name: str) -> str:
    wanted = name.lower()
    return next((value for column, value in zip(header, row, strict=False) if column.lower() == wanted), "")


def _repeated_external_ids(header: list[str], chunk: list[list[str]], ext_field: Any) -> set[str]:
    """External id values named by more than one row of one chunk: those rows fail (Salesforce processes a
    chunk as one DML call, which refuses "Duplicate external id specified")."""
    if ext_field.type == "id":
        return set()
    values = [ext_key(ext_field, _cell(header, row, ext_field.name)) for row in chunk]
    counts = Counter(value for value in values if value)
    return {value for value, count in counts.items() if count > 1}


def _apply(
    org: Org, txn: Transaction, obj: Any, operation: str, ext_field: Any, data: dict[str, Any]
) -> tuple[str, bool]:
    record_id = next((str(v) for k, v in data.items() if k.lower() == "id" and v), "")
    if operation == "insert":
        return org.store.insert(txn, obj, data), True
    if operation == "upsert":
        value = next((v for k, v in data.items() if k.lower() == ext_field.name.lower()), None)
        if ext_field.type == "id":
            if value:
                return org.store.update(txn, obj, str(value), data), False
            return org.store.insert(txn, obj, {k: v for k, v in data.items() if k.lower() != "id"}), True
        if value in (None, ""):
            raise SalesforceError(400, "MISSING_ARGUMENT", f"{ext_field.name} not specified", [ext_field.name])
        return org.store.upsert(txn, obj, ext_field, str(value), data)
    if not record_id:
        raise SalesforceError(400, "MISSING_ARGUMENT", "Id not specified in an update call", [])
    if not is_valid_id(record_id) or record_id[:3] != obj.key_prefix:
        raise SalesforceError(400, "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}", ["Id"])
    if operation == "update":
        return org.store.update(txn, obj, record_id, data), False
    if operation == "delete":
        return org.store.delete(txn, obj, record_id), False
    return org.store.hard_delete(txn, obj, record_id), False


def _csv(job: dict[str, Any], header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[job["columnDelimiter"]],
        lineterminator=LINE_ENDINGS[job["lineEnding"]],
        quoting=csv.QUOTE_NOTNULL,
    )
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _ingest_results(org: Org, job: dict[str, Any], resource: str) -> Reply:
    if _state(org, job) not in ("JobComplete", "Failed", "Aborted"):
        raise _job_error("Job is not complete", "INVALIDJOBSTATE")
    header = job.get("header") or (_rows(job)[0] if job["data"] else [])
    if resource == "successfulresults":
        body = _csv(job, ["sf__Id", "sf__Created", *header], _in_result_order(org, job, job["results"]["successful"]))
    elif resource == "failedresults":
        body = _csv(job, ["sf__Id", "sf__Error", *header], _in_result_order(org, job, job["results"]["failed"]))
    else:
        rows = _rows(job)[1] if job["state"] == "Aborted" and job["data"] else []
        body = _csv(job, header, _in_result_order(org, job, rows))
    return Reply(200, body, content_type=CSV_TYPE)


def _in_result_order(org: Org, job: dict[str, Any], rows: list[list[Any]]) -> list[list[Any]]:
    """ "The order of records in the response is not guaranteed to match the ordering of records in the original
    job data" (Bulk API 2.0, Get Job Successful Record Results): shuffled, the same way for the same seed and job."""
    if org.config.bulk_results_in_order:
        return rows
    shuffled = list(rows)
    random.Random(f"{org.config.random_seed}:{job['id']}").shuffle(shuffled)
    return shuffled


def _query_results(org: Org, call: Call, job: dict[str, Any]) -> Reply:
    if _state(org, job) != "JobComplete":
        raise _job_error("Job is not complete", "INVALIDJOBSTATE")
    if float(call.version) != job["apiVersion"]:
        raise SalesforceError(
            409, "INVALIDJOBSTATE", "Use the API version the job was created with", include_fields=False
        )
    locator = call.params.get("locator", "")
    try:
        start = int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()) if locator else 0
    except ValueError:
        raise SalesforceError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}", include_fields=False) from None
    max_records = int(call.params.get("maxRecords") or 50000)
    page = job["rows"][start : start + max_records]
    end = start + len(page)
    next_locator = base64.b64encode(str(end).encode()).decode().rstrip("=") if end < len(job["rows"]) else "null"
    body = _csv(job, job["columns"], [[values.to_text(v) if v is not None else None for v in r] for r in page])
    return Reply(
        200, body, {"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(len(page))}, content_type=CSV_TYPE
    )
