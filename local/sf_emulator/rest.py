"""REST resources under /services/data/vXX.X: describe, sObject rows, external-id rows, query, limits."""

from __future__ import annotations

import random
import secrets
import time
from typing import Any
from urllib.parse import unquote

from . import soql, values
from .errors import SalesforceError, method_not_allowed, not_found
from .ids import is_valid_id, looks_like_id, to18
from .org import Call, Org, Reply
from .schema import FieldDef, ObjectDef

RELEASES = ("Spring", "Summer", "Winter")


def version_label(version: str) -> str:
    index = int(float(version)) - 60
    season = RELEASES[index % 3]
    year = 24 + index // 3 + (1 if season == "Winter" else 0)
    return f"{season} '{year}"


def versions(org: Org) -> list[dict[str, str]]:
    low = int(float(org.config.min_api_version))
    high = int(float(org.config.latest_api_version))
    return [
        {"label": version_label(f"{v}.0"), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(low, high + 1)
    ]


def record_url(version: str, obj: ObjectDef, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{obj.name}/{record_id}"


def record_json(
    org: Org, obj: ObjectDef, record: dict[str, Any], version: str, fields: list[FieldDef] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": {"type": obj.name, "url": record_url(version, obj, record["Id"])}}
    for fdef in fields if fields is not None else list(obj.fields.values()):
        out[fdef.name] = values.to_json(record.get(fdef.name))
    return out


def resolve_object(org: Org, name: str) -> ObjectDef:
    obj = org.store.object(name)
    if obj is None:
        raise not_found()
    return obj


def save_result(record_id: str, created: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
    if created is not None:
        body["created"] = created
    return body


def request_fields(obj: ObjectDef, raw: str) -> list[FieldDef]:
    out = []
    for name in [n.strip() for n in raw.split(",") if n.strip()]:
        fdef = obj.field(name)
        if fdef is None:
            raise SalesforceError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", include_fields=False
            )
        out.append(fdef)
    return out


def body_object(call: Call) -> dict[str, Any]:
    data = call.json()
    if not isinstance(data, dict):
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of SObject from START_ARRAY", include_fields=False
        )
    return data


def version_at_least(version: str, minimum: float) -> bool:
    return float(version) >= minimum


# ---------------- sObjects ----------------


def sobjects(org: Org, call: Call, parts: list[str]) -> Reply:
    """/sobjects[/{Obj}[/describe | /{id} | /{extField}/{value}]]"""
    if not parts:
        if call.method != "GET":
            raise method_not_allowed(call.method, ["GET", "HEAD"])
        return Reply(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [o.describe_global_entry(call.version) for o in org.schemas.values()],
            },
        )
    obj = resolve_object(org, parts[0])
    if len(parts) == 1:
        if call.method == "GET":
            recent = [
                record_json(org, obj, r, call.version, [obj.fields["id"]]) for r in org.store.scan(obj, False)[-20:]
            ]
            return Reply(200, {"objectDescribe": obj.describe_global_entry(call.version), "recentItems": recent})
        if call.method == "POST":
            with org.transaction(call) as txn:
                record_id = org.store.insert(txn, obj, body_object(call))
            return Reply(201, save_result(record_id), {"Location": record_url(call.version, obj, record_id)})
        raise method_not_allowed(call.method, ["GET", "HEAD", "POST"])
    if len(parts) == 2 and parts[1] == "describe":
        if call.method != "GET":
            raise method_not_allowed(call.method, ["GET", "HEAD"])
        return Reply(200, obj.describe(call.version))
    if len(parts) == 2 and parts[1] in ("updated", "deleted"):
        return changed_since(org, call, obj, parts[1])
    if len(parts) == 2:
        return row(org, call, obj, unquote(parts[1]))
    if len(parts) == 3:
        return external_row(org, call, obj, parts[1], unquote(parts[2]))
    raise not_found()


def changed_since(org: Org, call: Call, obj: ObjectDef, which: str) -> Reply:
    """getUpdated / getDeleted: ids changed (SystemModstamp) or deleted between start and end (≤30 days)."""
    if call.method != "GET":
        raise method_not_allowed(call.method, ["GET", "HEAD"])
    start = values.parse_datetime(call.params.get("start", ""))
    end = values.parse_datetime(call.params.get("end", ""))
    if start is None or end is None or end < start:
        raise SalesforceError(
            400,
            "INVALID_REPLICATION_DATE",
            "start and end must be valid dateTimes, start before end",
            include_fields=False,
        )
    now = org.clock.now()
    if (now - start).days > 30:
        raise SalesforceError(
            400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago", include_fields=False
        )
    end = min(end, now).replace(second=0, microsecond=0)
    rows = org.store.scan(obj, include_deleted=True)
    latest = values.format_datetime(end)
    if which == "updated":
        ids = [r["Id"] for r in rows if not r["IsDeleted"] and start <= r["SystemModstamp"] < end]
        return Reply(200, {"ids": ids, "latestDateCovered": latest})
    deleted = [
        {"id": r["Id"], "deletedDate": values.format_datetime(r["SystemModstamp"])}
        for r in rows
        if r["IsDeleted"] and start <= r["SystemModstamp"] < end
    ]
    earliest = min((r["SystemModstamp"] for r in rows if r["IsDeleted"]), default=start)
    return Reply(
        200,
        {
            "deletedRecords": deleted,
            "earliestDateAvailable": values.format_datetime(earliest),
            "latestDateCovered": latest,
        },
    )


def row(org: Org, call: Call, obj: ObjectDef, record_id: str) -> Reply:
    if not looks_like_id(record_id):
        # Salesforce reads /sobjects/{Obj}/{x} with a non-id x as an external-id field name.
        raise SalesforceError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {record_id}",
            include_fields=False,
        )
    if call.method == "GET":
        if not is_valid_id(record_id) or record_id[:3] != obj.key_prefix:
            raise SalesforceError(
                400, "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}", ["Id"]
            )
        record = org.store.get(obj, record_id)
        if record is None or record["IsDeleted"]:
            raise not_found()
        fields = request_fields(obj, call.params["fields"]) if call.params.get("fields") else None
        return Reply(200, record_json(org, obj, record, call.version, fields))
    if call.method == "PATCH":
        with org.transaction(call) as txn:
            org.store.update(txn, obj, record_id, body_object(call))
        return Reply(204)
    if call.method == "DELETE":
        with org.transaction(call) as txn:
            org.store.delete(txn, obj, record_id)
        return Reply(204)
    raise method_not_allowed(call.method, ["GET", "PATCH", "HEAD", "DELETE"])


def external_field(obj: ObjectDef, name: str) -> FieldDef:
    fdef = obj.field(name)
    if fdef is None or not (fdef.external_id or fdef.type == "id"):
        raise SalesforceError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {name}",
            include_fields=False,
        )
    return fdef


def external_row(org: Org, call: Call, obj: ObjectDef, field_name: str, value: str) -> Reply:
    fdef = external_field(obj, field_name)
    if fdef.type == "id":
        if call.method == "PATCH":
            if not value:
                with org.transaction(call) as txn:
                    record_id = org.store.insert(txn, obj, body_object(call))
                return Reply(201, save_result(record_id, True if version_at_least(call.version, 46.0) else None))
            return row(org, call, obj, value)
        return row(org, call, obj, value)
    matches = org.store.find_all_by_external(obj, fdef, value)
    if len(matches) > 1 and call.method in ("GET", "PATCH", "POST", "DELETE"):
        # A non-unique external id matching several records: 300 Multiple Choices listing their URLs, nothing
        # written ("Upsert Records Using sObject Rows by External ID"; simple-salesforce raises
        # SalesforceMoreThanOneRecord for it).
        return Reply(300, [record_url(call.version, obj, record_id) for record_id in matches])
    existing = matches[0] if matches else None
    if call.method == "GET":
        record = org.store.get(obj, existing) if existing else None
        if record is None:
            raise not_found()
        fields = request_fields(obj, call.params["fields"]) if call.params.get("fields") else None
        return Reply(200, record_json(org, obj, record, call.version, fields))
    if call.method == "DELETE":
        if existing is None:
            raise not_found()
        with org.transaction(call) as txn:
            org.store.delete(txn, obj, existing)
        return Reply(204)
    if call.method in ("PATCH", "POST"):
        body = body_object(call)
        for key, given in body.items():
            if key.lower() == "id":
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    "Unable to create/update fields: Id. Please check the "
                    "security settings of this field and verify that it is read/write for your "
                    "profile or permission set.",
                    ["Id"],
                )
            if key.lower() == fdef.name.lower() and str(given) != value:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"The external ID field {fdef.name} in the body doesn't match the value in the URL",
                    [fdef.name],
                )
        if existing is None and call.params.get("updateOnly", "").lower() == "true":
            raise not_found()
        with org.transaction(call) as txn:
            record_id, created = org.store.upsert(txn, obj, fdef, value, body)
        modern = version_at_least(call.version, 46.0)
        if created:
            return Reply(
                201,
                save_result(record_id, True if modern else None),
                {"Location": record_url(call.version, obj, record_id)},
            )
        return Reply(200, save_result(record_id, False)) if modern else Reply(204)
    raise method_not_allowed(call.method, ["GET", "PATCH", "HEAD", "DELETE"])


# ---------------- query ----------------


def batch_size(org: Org, call: Call, default: int | None = None) -> int:
    size = default or org.config.default_query_batch_size
    for part in call.headers.get("sforce-query-options", "").split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "batchsize" and value.strip().isdigit():
            size = int(value.strip())
    return max(org.config.min_query_batch_size, min(size, 2000))


def run_soql(org: Org, text: str, include_deleted: bool) -> tuple[soql.Query, list[dict[str, Any]]]:
    query = soql.resolve(soql.parse(text), org.schemas)
    assert query.obj is not None
    rows = org.store.scan(query.obj, include_deleted)
    return query, soql.execute(query, rows, org.clock.now())


def project(org: Org, query: soql.Query, rows: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    assert query.obj is not None
    return [record_json(org, query.obj, r, version, query.selected) for r in rows]


def query(org: Org, call: Call, include_deleted: bool, parts: list[str]) -> Reply:
    if call.method != "GET":
        raise method_not_allowed(call.method, ["GET", "HEAD"])
    if parts:
        return query_more(org, call, parts[0])
    text = call.params.get("q")
    if not text:
        raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified", include_fields=False)
    query_obj, rows = run_soql(org, text, include_deleted)
    if query_obj.count_only:
        return Reply(200, {"totalSize": len(rows), "done": True, "records": []})
    if query_obj.aggregate:
        name, alias = query_obj.aggregate
        count = len([r for r in rows if name is None or r.get(query_obj.obj.field(name).name) is not None])  # type: ignore[union-attr]
        return Reply(
            200, {"totalSize": 1, "done": True, "records": [{"attributes": {"type": "AggregateResult"}, alias: count}]}
        )
    records = project(org, query_obj, rows, call.version)
    return page(org, call, records, batch_size(org, call))


def page(
    org: Org, call: Call, records: list[dict[str, Any]], size: int, locator: str | None = None, start: int = 0
) -> Reply:
    if locator is None and start + size < len(records):
        locator = org.ids.new("01g")
        with org.lock:
            org.cursors[locator] = {"records": records, "size": size, "touched": time.time()}
    chunk = records[start : start + page_size(org, size, locator, start)]
    end = start + len(chunk)
    body: dict[str, Any] = {"totalSize": len(records), "done": end >= len(records)}
    if end < len(records):
        body["nextRecordsUrl"] = f"/services/data/v{call.version}/query/{locator}-{end}"
    body["records"] = chunk
    return Reply(200, body)


def page_size(org: Org, size: int, locator: str | None, start: int) -> int:
    """Rows in this page: "up to 2,000" (or the batchSize asked for) and "not guaranteed to be the requested
    size" (REST API Developer Guide, Query / Sforce-Query-Options header): between half the batch size and all of
    it, drawn from random_seed, the cursor and the position, so the same request pages the same way again."""
    if not org.config.query_page_size_varies or locator is None:
        return size
    return random.Random(f"{org.config.random_seed}:{locator}:{start}").randint(max(1, size // 2), size)


def query_more(org: Org, call: Call, token: str) -> Reply:
    locator, _, position = token.partition("-")
    with org.lock:
        cursor = org.cursors.get(locator)
        ttl = org.config.query_cursor_ttl_seconds
        if cursor is not None and time.time() - cursor["touched"] > ttl:
            org.cursors.pop(locator, None)
            cursor = None
        if cursor is not None:
            cursor["touched"] = time.time()
    if cursor is None or not position.isdigit():
        raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator", include_fields=False)
    size = batch_size(org, call, cursor["size"]) if call.headers.get("sforce-query-options") else cursor["size"]
    return page(org, call, cursor["records"], size, locator, int(position))


# ---------------- limits ----------------


def limits(org: Org, call: Call) -> Reply:
    if call.method != "GET":
        raise method_not_allowed(call.method, ["GET", "HEAD"])
    remaining = org.limits.remaining()

    def pair(maximum: int, left: int | None = None) -> dict[str, int]:
        return {"Max": maximum, "Remaining": maximum if left is None else left}

    with org.lock:
        query_jobs = sum(1 for j in org.bulk_jobs.values() if j.get("kind") == "query")
    return Reply(
        200,
        {
            "ConcurrentAsyncGetReportInstances": pair(200),
            "DailyApiRequests": pair(org.limits.max, remaining),
            "DailyAsyncApexExecutions": pair(250000),
            "DailyBulkApiBatches": pair(15000),
            "DailyBulkV2QueryFileStorageMB": pair(976562),
            "DailyBulkV2QueryJobs": pair(10000, 10000 - query_jobs),
            "DataStorageMB": pair(1024),
            "FileStorageMB": pair(1024),
            "HourlyPublishedStandardVolumePlatformEvents": pair(100000),
            "SingleEmail": pair(5000),
        },
    )


def resources(org: Org, call: Call) -> Reply:
    base = f"/services/data/v{call.version}"
    names = ["sobjects", "query", "queryAll", "limits", "composite", "jobs"]
    return Reply(200, {name: f"{base}/{name}" for name in names})


def new_token() -> str:
    return secrets.token_hex(8)


def normalize_id(value: str) -> str:
    return to18(value) if is_valid_id(value) else value
