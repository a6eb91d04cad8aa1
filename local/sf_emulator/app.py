"""The WSGI application: OAuth, /services/data, and the unauthenticated /__emulator test controls."""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from typing import Any

from werkzeug.wrappers import Request, Response

from . import auth, rest, router, values
from .cdc import CdcRelay
from .errors import SalesforceError, invalid_session, limit_exceeded, not_found
from .org import JSON_TYPE, Call, Org, Reply, error_reply
from .outbound import OutboundSender

log = logging.getLogger("sf_emulator")
_DATA_RE = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")


class EmulatorApp:
    def __init__(self, org: Org, outbound: OutboundSender, cdc: CdcRelay) -> None:
        self.org = org
        self.outbound = outbound
        self.cdc = cdc

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            reply = self.handle(request)
        except Exception:  # an emulator bug must still answer like Salesforce does
            log.exception("emulator error")
            reply = Reply(500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": traceback.format_exc(limit=3)}])
        response = Response(reply.payload(), status=reply.status, content_type=reply.content_type)
        for key, value in reply.headers.items():
            response.headers[key] = value
        return response(environ, start_response)

    # ---------------- Salesforce surface ----------------
    def handle(self, request: Request) -> Reply:
        path = request.path
        if path.startswith("/__emulator"):
            return self.control(request, path[len("/__emulator") :].rstrip("/"))
        if path.startswith("/services/oauth2/"):
            return self.oauth(request, path)
        if path.rstrip("/") == "/services/data":
            self.org.counters.request("versions")
            return Reply(200, rest.versions(self.org))
        match = _DATA_RE.match(path)
        if match is None:
            self.org.counters.request("other")
            return error_reply(not_found())
        return self.data(request, match.group(1), match.group(2) or "/")

    def oauth(self, request: Request, path: str) -> Reply:
        org = self.org
        org.counters.request("oauth")
        fault = self._fault("oauth", path, request.method)
        if fault is not None:
            return fault
        if path.rstrip("/") == "/services/oauth2/revoke":
            token = request.values.get("token", "")
            return Reply(200 if org.sessions.revoke(token) else 400, b"", content_type="text/plain")
        if path.rstrip("/") != "/services/oauth2/token" or request.method != "POST":
            return error_reply(not_found())
        basic = None
        if request.authorization is not None and request.authorization.type == "basic":
            basic = (request.authorization.username or "", request.authorization.password or "")
        form = dict(request.form.items())
        try:
            body = auth.token(org.config, org.sessions, form, basic, org.base_url)
        except auth.OAuthError as exc:
            org.counters.status("oauth", exc.status)
            return Reply(exc.status, exc.body())
        org.counters.status("oauth", 200)
        return Reply(200, body)

    def _fault(self, kind: str, path: str, method: str) -> Reply | None:
        delay = self.org.faults.global_latency()
        rule = self.org.faults.pick(kind, path, method)
        if rule is not None:
            delay += rule.latency_ms / 1000.0
        if delay:
            time.sleep(delay)
        if rule is None or not rule.error_code:
            return None
        self.org.counters.fault(rule.error_code)
        if kind == "oauth":
            return Reply(rule.status, {"error": rule.error_code.lower(), "error_description": rule.message or ""})
        return Reply(rule.status, rule.error().body())

    def data(self, request: Request, version: str, sub_path: str) -> Reply:
        org = self.org
        kind = router.kind_of(sub_path, request.method)
        org.counters.request(kind)
        low, high = float(org.config.min_api_version), float(org.config.latest_api_version)
        if not low <= float(version) <= high:
            return error_reply(not_found())
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        session = org.sessions.lookup(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
        if session is None:
            org.counters.status(kind, 401)
            return error_reply(invalid_session())
        limit_header = {"Sforce-Limit-Info": org.limits.header()}
        if org.limits.exhausted():
            org.counters.status(kind, 403)
            return Reply(403, limit_exceeded().body(), limit_header)
        fault = self._fault(kind, request.path, request.method)
        if fault is not None:
            org.counters.status(kind, fault.status)
            fault.headers.update(limit_header)
            return fault
        try:
            org.limits.charge()
        except SalesforceError as exc:
            return Reply(exc.status, exc.body(), limit_header)
        org.counters.charged(kind)
        call = Call(
            method=request.method,
            path=sub_path,
            version=version,
            params=dict(request.args.items()),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.get_data(),
            user_id=session.user_id,
        )
        reply = router.dispatch(org, call)
        reply.headers["Sforce-Limit-Info"] = org.limits.header()
        org.counters.status(kind, reply.status)
        return reply

    # ---------------- test controls ----------------
    def control(self, request: Request, path: str) -> Reply:
        try:
            return self._control(request, path)
        except SalesforceError as exc:
            return error_reply(exc)
        except (ValueError, KeyError, TypeError) as exc:
            return Reply(400, {"error": f"{type(exc).__name__}: {exc}"})

    def _body(self, request: Request) -> Any:
        raw = request.get_data()
        return json.loads(raw) if raw.strip() else {}

    def _control(self, request: Request, path: str) -> Reply:
        from . import controls

        org = self.org
        method = request.method
        if path in ("", "/health"):
            return Reply(200, {"ok": True, "url": org.base_url, "org_id": org.config.org_id})
        if path == "/counters":
            if method == "DELETE":
                org.counters.reset()
            return Reply(200, org.counters.snapshot())
        if path == "/faults":
            if method == "POST":
                controls.add_faults(org, self._body(request))
            elif method == "DELETE":
                org.faults.clear()
            return Reply(200, {"rules": org.faults.rules(), "latency_ms": org.faults.latency_ms})
        if path == "/limits":
            if method == "POST":
                body = self._body(request)
                org.limits.set(body.get("max"), body.get("used"), float(body.get("seconds_ago", 0)))
                if body.get("add"):
                    org.limits.add(int(body["add"]), float(body.get("add_seconds_ago", 0)))
            return Reply(
                200,
                {
                    "max": org.limits.max,
                    "used": org.limits.used,
                    "remaining": org.limits.remaining(),
                    "refused_from": org.limits.refuse_at(),
                },
            )
        if path == "/config":
            body = self._body(request) if method == "POST" else {}
            return Reply(200, controls.configure(org, body))
        if path == "/sessions/expire" and method == "POST":
            body = self._body(request)
            return Reply(200, {"expired": org.sessions.expire(body.get("token"))})
        if path == "/sessions" and method == "POST":
            body = self._body(request)
            session = org.sessions.issue(body.get("user_id") or org.config.user_id)
            return Reply(200, {"access_token": session.token, "instance_url": org.base_url})
        if path == "/seed" and method == "POST":
            body = self._body(request)
            return Reply(200, {"ids": controls.seed(org, body["sobject"], body["records"], body.get("user_id"))})
        if path.startswith("/records/") and method == "GET":
            include = request.args.get("include_deleted", "").lower() in ("1", "true", "yes")
            return Reply(200, controls.records(org, path.split("/")[2], include))
        if path == "/outbound":
            return Reply(200, self.outbound.snapshot())
        if path == "/cdc":
            if method == "DELETE":
                self.cdc.clear()
            with self.cdc.lock:
                errors = [{"error": e["error"]} for e in self.cdc.errors]
            return Reply(200, {"events": self.cdc.events(), "errors": errors})
        if path == "/cdc/gap" and method == "POST":
            body = self._body(request)
            event = self.cdc.emit_gap(
                body["sobject"],
                body.get("changeType", "GAP_UPDATE"),
                body.get("ids", []),
                body.get("user_id") or org.config.admin_user_id,
            )
            return Reply(200, event)
        if path == "/changes" and method == "POST":
            body = self._body(request)
            return Reply(200, controls.user_change(org, body))
        if path == "/clock" and method == "POST":
            body = self._body(request)
            org.clock.advance(float(body.get("advance_seconds", 0)))
            return Reply(
                200, {"now": values.format_datetime(org.clock.now()), "offset_seconds": org.clock.offset_seconds()}
            )
        if path == "/reset" and method == "POST":
            controls.reset(org, self.outbound, self.cdc)
            return Reply(200, {"ok": True})
        return Reply(404, {"error": f"unknown control {method} /__emulator{path}"}, content_type=JSON_TYPE)
