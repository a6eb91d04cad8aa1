"""Composite: up to 25 subrequests in one call (one API call charged), references and allOrNone."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import router
from .errors import PROCESSING_HALTED_MESSAGE, SalesforceError, method_not_allowed
from .org import Call, Org, Reply
from .rest import body_object

MAX_SUBREQUESTS = 25
MAX_QUERY_OR_COLLECTIONS = 5
_REF_RE = re.compile(r"@\{([^}]+)\}")
_PATH_RE = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")


class _Unresolved(Exception):
    def __init__(self, expression: str) -> None:
        super().__init__(expression)
        self.expression = expression


def _halted(reference_id: str, message: str = PROCESSING_HALTED_MESSAGE) -> dict[str, Any]:
    return {
        "body": [{"errorCode": "PROCESSING_HALTED", "message": message}],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": reference_id,
    }


def _lookup(results: dict[str, Any], expression: str) -> Any:
    ref, _, path = expression.partition(".")
    if ref not in results:
        raise _Unresolved(expression)
    value: Any = results[ref]
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if token.startswith("["):
            index = int(token[1:-1])
            if not isinstance(value, list) or index >= len(value):
                raise _Unresolved(expression)
            value = value[index]
        else:
            if not isinstance(value, dict) or token not in value:
                raise _Unresolved(expression)
            value = value[token]
    return value


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REF_RE.fullmatch(value)
        if whole:
            return _lookup(results, whole.group(1))
        return _REF_RE.sub(lambda m: str(_lookup(results, m.group(1))), value)
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    return value


def _counts_toward_five(path: str) -> bool:
    kind = router.kind_of(path)
    return kind in ("query", "collections")


def handle(org: Org, call: Call) -> Reply:
    if call.method != "POST":
        raise method_not_allowed(call.method, ["POST"])
    body = body_object(call)
    requests = body.get("compositeRequest")
    if not isinstance(requests, list) or not requests or not all(isinstance(r, dict) for r in requests):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "compositeRequest is required", include_fields=False)
    if len(requests) > MAX_SUBREQUESTS:
        raise SalesforceError(
            400,
            "LIMIT_EXCEEDED",
            f"Composite Request: too many subrequests. The maximum is {MAX_SUBREQUESTS}.",
            include_fields=False,
        )
    seen: set[str] = set()
    heavy = 0
    for sub in requests:
        ref = sub.get("referenceId")
        url = sub.get("url")
        if not isinstance(ref, str) or not ref or not isinstance(url, str) or not sub.get("method"):
            raise SalesforceError(
                400, "INVALID_INPUT", "Each subrequest needs method, url and referenceId", include_fields=False
            )
        if ref in seen:
            raise SalesforceError(
                400, "INVALID_INPUT", f"Duplicate ReferenceId provided in the request: {ref}", include_fields=False
            )
        seen.add(ref)
        match = _PATH_RE.match(urlsplit(url).path)
        if match and _counts_toward_five(match.group(2) or "/"):
            heavy += 1
    if heavy > MAX_QUERY_OR_COLLECTIONS:
        raise SalesforceError(
            400,
            "LIMIT_EXCEEDED",
            "Composite Request: a request can contain at most 5 query or sObject Collections subrequests",
            include_fields=False,
        )
    all_or_none = str(body.get("allOrNone", False)).lower() == "true"
    if all_or_none:
        with org.store.transaction(call.user_id, org.origin(call, collections=True)) as txn:
            start = txn.savepoint()
            results, failed_at = _run(org, call, requests, txn_all=txn)
            if failed_at is not None:
                org.store.rollback_to(txn, start)
                results = [r if i == failed_at else _halted(r["referenceId"]) for i, r in enumerate(results)]
                results += [_halted(str(sub["referenceId"])) for sub in requests[len(results) :]]
    else:
        results, _ = _run(org, call, requests, txn_all=None)
    return Reply(200, {"compositeResponse": results})


def _subrequest_fault(org: Org, path: str, method: str, match: re.Match[str] | None) -> Reply | None:
    """A `scope="subrequest"` fault rule firing for this subrequest: its whole answer is the rule's error (nothing
    runs), as when Salesforce refuses one subrequest (503 SERVER_UNAVAILABLE, 403 REQUEST_LIMIT_EXCEEDED ...)."""
    kind = router.kind_of(match.group(2) or "/", method.upper()) if match else "other"
    rule = org.faults.pick(kind, path, method, scope="subrequest")
    if rule is None:
        return None
    if rule.latency_ms:
        time.sleep(rule.latency_ms / 1000.0)
    if not rule.error_code:
        return None
    org.counters.fault(rule.error_code)
    return Reply(rule.status, rule.error().body())


def _run(org: Org, call: Call, requests: list[dict[str, Any]], txn_all: Any) -> tuple[list[dict[str, Any]], int | None]:
    results: list[dict[str, Any]] = []
    bodies: dict[str, Any] = {}
    for index, sub in enumerate(requests):
        ref = str(sub["referenceId"])
        try:
            url = _substitute(str(sub["url"]), bodies)
            payload = _substitute(sub.get("body"), bodies) if "body" in sub else None
        except _Unresolved as exc:
            name = exc.expression.partition(".")[0]
            results.append(
                _halted(
                    ref,
                    f"Invalid reference specified. No value for {exc.expression} found in "
                    f"{name}. Provided referenceId ('{name}') must be of a subrequest that "
                    "succeeded and comes before this one.",
                )
            )
            if txn_all is not None:
                return results, index
            continue
        split = urlsplit(url)
        match = _PATH_RE.match(split.path)
        fault = _subrequest_fault(org, split.path, str(sub["method"]), match)
        if fault is not None:
            reply = fault
        elif match is None:
            reply = Reply(400, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        else:
            headers = dict(call.headers)
            headers.update({str(k).lower(): str(v) for k, v in (sub.get("httpHeaders") or {}).items()})
            sub_call = Call(
                method=str(sub["method"]).upper(),
                path=match.group(2) or "/",
                version=match.group(1),
                params=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers=headers,
                body=json.dumps(payload).encode() if payload is not None else b"",
                user_id=call.user_id,
                txn=txn_all,
                in_composite=True,
                force_all_or_none=txn_all is not None,
            )
            reply = router.dispatch(org, sub_call)
        json_body = reply.json_body() if reply.status != 204 else None
        results.append(
            {
                "body": json_body,
                "httpHeaders": dict(reply.headers),
                "httpStatusCode": reply.status,
                "referenceId": ref,
            }
        )
        failed = reply.status >= 400 or (
            txn_all is not None
            and isinstance(json_body, list)
            and any(isinstance(r, dict) and r.get("success") is False for r in json_body)
        )
        if failed:
            if txn_all is not None:
                return results, index
            continue
        bodies[ref] = json_body
    return results, None
