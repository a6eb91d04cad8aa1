"""sObject Collections: /composite/sobjects create, update, upsert, delete, retrieve (≤200 records a call)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from .errors import ROLLED_BACK_MESSAGE, SalesforceError, method_not_allowed
from .ids import is_valid_id
from .org import Call, Org, Reply
from .rest import body_object, external_field, record_json, request_fields, resolve_object
from .schema import ObjectDef
from .store import Transaction, duplicate_external_id, ext_key

MAX_RECORDS = 200
MAX_RETRIEVE_IDS = 2000


def _limit_error() -> SalesforceError:
    return SalesforceError(
        400,
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 200 records into this call",
        include_fields=False,
    )


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def handle(org: Org, call: Call, parts: list[str]) -> Reply:
    """parts after /composite/sobjects"""
    if not parts:
        if call.method == "POST":
            return _write(org, call, "create")
        if call.method == "PATCH":
            return _write(org, call, "update")
        if call.method == "DELETE":
            return _delete(org, call)
        raise method_not_allowed(call.method, ["DELETE", "PATCH", "POST"])
    obj = resolve_object(org, parts[0])
    if len(parts) == 1:
        if call.method in ("GET", "POST"):
            return _retrieve(org, call, obj)
        raise method_not_allowed(call.method, ["GET", "POST"])
    if len(parts) == 2 and call.method == "PATCH":
        return _write(org, call, "upsert", obj, parts[1])
    raise method_not_allowed(call.method, ["PATCH"])


def _records(call: Call) -> tuple[list[dict[str, Any]], bool]:
    body = body_object(call)
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of List<SObject>: 'records' is required",
            include_fields=False,
        )
    if len(records) > MAX_RECORDS:
        raise _limit_error()
    return records, _flag(body.get("allOrNone", False))


def _record_object(org: Org, record: dict[str, Any]) -> ObjectDef:
    attributes = record.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, dict) else None
    if not type_name:
        raise SalesforceError(400, "INVALID_TYPE", "Must send a concrete entity type.", [])
    obj = org.store.object(str(type_name))
    if obj is None:
        raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.", [])
    return obj


def _run_rows(
    org: Org,
    call: Call,
    count: int,
    all_or_none: bool,
    operation: Callable[[Transaction, int], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Each row in its own savepoint; allOrNone rolls every row back if one fails."""
    results: list[dict[str, Any]] = []
    all_or_none = all_or_none or call.force_all_or_none
    with org.transaction(call, collections=True) as txn:
        start = txn.savepoint()
        failed = False
        for index in range(count):
            savepoint = txn.savepoint()
            try:
                fault = org.faults.pick("collections", "/composite/sobjects", call.method, scope="record")
                if fault is not None and fault.error_code:
                    org.counters.fault(fault.error_code)
                    raise fault.error(_row_id(call, index))
                results.append(operation(txn, index))
            except SalesforceError as exc:
                org.store.rollback_to(txn, savepoint)
                results.append({"success": False, "errors": [exc.row_error()]})
                failed = True
        if all_or_none and failed:
            org.store.rollback_to(txn, start)
            rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": ROLLED_BACK_MESSAGE, "fields": []}
            results = [r if not r["success"] else {"success": False, "errors": [rolled]} for r in results]
    return results


def _row_id(call: Call, index: int) -> str:
    try:
        records = call.json().get("records", [])
        record = records[index]
        return str(record.get("id") or record.get("Id") or "")
    except (AttributeError, IndexError, SalesforceError):
        return ""


def _write(org: Org, call: Call, kind: str, upsert_obj: ObjectDef | None = None, ext_name: str | None = None) -> Reply:
    records, all_or_none = _records(call)
    ext_field = external_field(upsert_obj, ext_name) if upsert_obj is not None and ext_name else None
    if org.config.collections_unknown_field == "request":
        _refuse_unknown_fields(org, records)
    repeated: set[str] = set()
    if ext_field is not None and ext_field.type != "id":
        keys = [ext_key(ext_field, _value_of(record, ext_field.name)) for record in records]
        repeated = {key for key, count in Counter(k for k in keys if k).items() if count > 1}

    def operation(txn: Transaction, index: int) -> dict[str, Any]:
        record = records[index]
        obj = _record_object(org, record)
        data = {k: v for k, v in record.items() if k != "attributes"}
        if kind == "create":
            if any(k.lower() == "id" for k in data):
                raise SalesforceError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            return {"id": org.store.insert(txn, obj, data), "success": True, "errors": []}
        if kind == "update":
            record_id = next((str(v) for k, v in data.items() if k.lower() == "id" and v), None)
            if record_id is None:
                raise SalesforceError(400, "MISSING_ARGUMENT", "Id not specified in an update call", [])
            if not is_valid_id(record_id) or record_id[:3] != obj.key_prefix:
                raise SalesforceError(
                    400, "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}", ["Id"]
                )
            _ensure_exists(org, obj, record_id)
            return {"id": org.store.update(txn, obj, record_id, data), "success": True, "errors": []}
        assert ext_field is not None and upsert_obj is not None
        if obj.name != upsert_obj.name:
            raise SalesforceError(
                400, "INVALID_TYPE", f"Cannot upsert {obj.name} records in a call for {upsert_obj.name}", []
            )
        value = next((v for k, v in data.items() if k.lower() == ext_field.name.lower()), None)
        if value in (None, ""):
            raise SalesforceError(400, "MISSING_ARGUMENT", f"{ext_field.name} not specified", [ext_field.name])
        if ext_key(ext_field, value) in repeated:
            raise duplicate_external_id(value)  # every row naming it fails, none is written
        record_id, created = org.store.upsert(txn, obj, ext_field, str(value), data)
        return {"id": record_id, "success": True, "errors": [], "created": created}

    return Reply(200, _run_rows(org, call, len(records), all_or_none, operation))


def _value_of(record: dict[str, Any], name: str) -> Any:
    wanted = name.lower()
    return next((value for key, value in record.items() if key.lower() == wanted), None)


def _refuse_unknown_fields(org: Org, records: list[dict[str, Any]]) -> None:
    """The stricter reading of an undocumented case: one row naming a field the object lacks makes the whole
    request 400 INVALID_FIELD, nothing written (config.collections_unknown_field="row" fails that row alone).
    Salesforce deserialises the whole body into sObjects before any DML, which is where an unknown field fails."""
    for record in records:
        attributes = record.get("attributes")
        obj = org.store.object(str(attributes.get("type"))) if isinstance(attributes, dict) else None
        if obj is None:
            continue  # the row fails on its own (INVALID_TYPE)
        for key in record:
            if key != "attributes" and obj.field(key) is None:
                raise SalesforceError(
                    400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", include_fields=False
                )


def _ensure_exists(org: Org, obj: ObjectDef, record_id: str) -> None:
    record = org.store.get(obj, record_id)
    if record is None:
        raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
    if record["IsDeleted"]:
        raise SalesforceError(400, "ENTITY_IS_DELETED", "entity is deleted", [])


def _delete(org: Org, call: Call) -> Reply:
    ids = [i.strip() for i in call.params.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise SalesforceError(400, "MISSING_ARGUMENT", "ids parameter is required", include_fields=False)
    if len(ids) > MAX_RECORDS:
        raise _limit_error()
    all_or_none = _flag(call.params.get("allOrNone", "false"))

    def operation(txn: Transaction, index: int) -> dict[str, Any]:
        record_id = ids[index]
        obj = org.store.object_for_id(record_id) if is_valid_id(record_id) else None
        if obj is None:
            raise SalesforceError(400, "MALFORMED_ID", f"malformed id {record_id}", [])
        _ensure_exists(org, obj, record_id)
        return {"id": org.store.delete(txn, obj, record_id), "success": True, "errors": []}

    results = _run_rows(org, call, len(ids), all_or_none, operation)
    # DeleteResult carries the id whenever it names a record (deleted, already deleted, rolled back); a row
    # whose id is malformed has no "id" key ("Delete Records Using sObject Collections", example response
    # body when some items failed: {"success": false, "errors": [{"statusCode": "MALFORMED_ID", ...}]}).
    out: list[dict[str, Any]] = []
    for record_id, result in zip(ids, results, strict=True):
        item: dict[str, Any] = {}
        if "id" in result or (is_valid_id(record_id) and org.store.object_for_id(record_id) is not None):
            item["id"] = result.get("id", record_id)
        item.update(success=result["success"], errors=result["errors"])
        out.append(item)
    return Reply(200, out)


def _retrieve(org: Org, call: Call, obj: ObjectDef) -> Reply:
    if call.method == "POST":
        body = body_object(call)
        ids = [str(i) for i in body.get("ids", [])]
        fields_raw = ",".join(str(f) for f in body.get("fields", []))
    else:
        ids = [i.strip() for i in call.params.get("ids", "").split(",") if i.strip()]
        fields_raw = call.params.get("fields", "")
    if not fields_raw:
        raise SalesforceError(400, "MISSING_ARGUMENT", "fields parameter is required", include_fields=False)
    if len(ids) > MAX_RETRIEVE_IDS:
        raise _limit_error()
    fields = request_fields(obj, fields_raw)
    out: list[dict[str, Any] | None] = []
    for record_id in ids:
        record = org.store.get(obj, record_id) if is_valid_id(record_id) and record_id[:3] == obj.key_prefix else None
        out.append(record_json(org, obj, record, call.version, fields) if record and not record["IsDeleted"] else None)
    return Reply(200, out)
