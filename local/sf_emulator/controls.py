"""Test controls shared by the /__emulator endpoints and RunningEmulator's methods."""

from __future__ import annotations

from typing import Any

from . import values
from .cdc import CdcRelay
from .config import RUNTIME_OPTIONS
from .errors import SalesforceError, not_found
from .org import Org
from .outbound import OutboundSender
from .schema import ObjectDef


def object_or_error(org: Org, sobject: str) -> ObjectDef:
    obj = org.store.object(sobject)
    if obj is None:
        raise not_found()
    return obj


def add_faults(org: Org, body: Any) -> None:
    if isinstance(body, dict) and ("rules" in body or "latency_ms" in body):
        for rule in body.get("rules", []):
            org.faults.add(rule)
        if "latency_ms" in body:
            org.faults.latency_ms = int(body["latency_ms"])
    elif isinstance(body, list):
        for rule in body:
            org.faults.add(rule)
    else:
        org.faults.add(body)


def seed(org: Org, sobject: str, records: list[dict[str, Any]], user_id: str | None = None) -> list[str]:
    """Insert existing org data (validated like any insert, but no outbound message / change event)."""
    obj = object_or_error(org, sobject)
    return [org.store.seed_record(obj, dict(r), user_id or org.config.admin_user_id) for r in records]


def records(org: Org, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
    obj = object_or_error(org, sobject)
    return [{k: values.to_json(v) for k, v in r.items()} for r in org.store.scan(obj, include_deleted)]


def ui_change_origin(org: Org) -> str:
    """changeOrigin of a Lightning Experience edit, e.g. `com/salesforce/api/soap/64.0;client=SfdcInternalAPI/`
    (Change Data Capture Developer Guide, "Example: Delivered Enriched Event Messages" and "Data Differences in
    Event Fields": events of UI edits show this origin)."""
    return org.config.ui_change_origin.format(version=org.config.latest_api_version)


def user_change(org: Org, body: dict[str, Any]) -> dict[str, Any]:
    """A change made by someone in the Salesforce UI: fires outbound messages and change events."""
    obj = object_or_error(org, body["sobject"])
    operation = str(body.get("op", "update")).lower()
    user_id = body.get("user_id") or org.config.admin_user_id
    fields = body.get("fields") or {}
    try:
        with org.store.transaction(user_id, body.get("origin", ui_change_origin(org))) as txn:
            if operation == "create":
                record_id = org.store.insert(txn, obj, fields)
            elif operation == "update":
                record_id = org.store.update(txn, obj, body["id"], fields)
            elif operation == "delete":
                record_id = org.store.delete(txn, obj, body["id"])
            elif operation == "undelete":
                record_id = org.store.undelete(txn, obj, body["id"])
            elif operation == "hard_delete":
                record_id = org.store.hard_delete(txn, obj, body["id"])
            else:
                raise ValueError(f"unknown op {operation}")
    except SalesforceError as exc:
        return {"success": False, "errors": [exc.row_error()]}
    return {"id": record_id, "success": True, "errors": []}


def reset(org: Org, outbound: OutboundSender, cdc: CdcRelay) -> None:
    """Empty org data, counters, faults, limits usage, cursors, jobs, outbound and CDC logs (sessions stay)."""
    org.store.clear()
    org.seed_standard_pricebook()
    org.counters.reset()
    org.faults.clear()
    org.limits.set(maximum=org.config.daily_api_limit, used=0)
    with org.lock:
        org.cursors.clear()
        org.bulk_jobs.clear()
    outbound.clear()
    cdc.clear()
    org.clock.set_offset(0)
    configure(org, org.runtime_defaults)


def configure(org: Org, options: dict[str, Any]) -> dict[str, Any]:
    """Change runtime options (config.RUNTIME_OPTIONS) of the running org; answers all of them."""
    unknown = sorted(set(options) - set(RUNTIME_OPTIONS))
    if unknown:
        raise ValueError(f"not runtime options: {', '.join(unknown)} (allowed: {', '.join(RUNTIME_OPTIONS)})")
    if options.get("collections_unknown_field", "request") not in ("request", "row"):
        raise ValueError("collections_unknown_field must be 'request' or 'row'")
    for name, value in options.items():
        setattr(org.config, name, value)
    return {name: getattr(org.config, name) for name in RUNTIME_OPTIONS}
