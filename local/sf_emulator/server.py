"""Start/stop the emulator (HTTPS on 127.0.0.1 in a background thread) and its Python-side controls."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import controls
from .app import EmulatorApp
from .cdc import CdcRelay
from .config import EmulatorConfig
from .org import Org
from .outbound import OutboundSender
from .tls import TlsMaterial, make_tls

log = logging.getLogger("sf_emulator")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s %s", self.command, self.path, code)


class _Persistence:
    """Saves the org to `state_file` whenever it changed (checked every 0.2 s) and at stop."""

    def __init__(self, org: Org, path: str) -> None:
        self.org = org
        self.path = Path(path)
        self.saved_version = -1
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="sf-emulator-state", daemon=True)

    def load(self) -> None:
        if self.path.exists() and self.path.stat().st_size:
            state = json.loads(self.path.read_text())
            self.org.store.load(state.get("store", {}))
            limits = state.get("limits", {})
            self.org.limits.set(limits.get("max"), limits.get("used"))
            self.org.seed_standard_pricebook()
        self.saved_version = self.org.store.version

    def save(self) -> None:
        with self.org.store.lock:
            version = self.org.store.version
            state = {
                "store": self.org.store.dump(),
                "limits": {"max": self.org.limits.max, "used": self.org.limits.used},
            }
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(state))
        tmp.replace(self.path)
        self.saved_version = version

    def _run(self) -> None:
        while not self.stopping.wait(0.2):
            if self.org.store.version != self.saved_version:
                self.save()

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.save()


class RunningEmulator:
    """A started emulator. `url` is both the login URL and the instance URL."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.org = Org(config)
        self.outbound = OutboundSender(self.org)
        self.cdc = CdcRelay(self.org)
        self.org.store.listeners.append(self.outbound.on_changes)
        self.org.store.listeners.append(self.cdc.on_changes)
        self._persistence = _Persistence(self.org, config.state_file) if config.state_file else None
        if self._persistence is not None:
            self._persistence.load()
        self._tls: TlsMaterial = make_tls()
        self.ca_path: str = self._tls.ca_path
        self.bundle_path: str = self._tls.bundle_path  # system CAs + ca_path (for REQUESTS_CA_BUNDLE)
        self.app = EmulatorApp(self.org, self.outbound, self.cdc)
        self._server: BaseWSGIServer = make_server(
            config.host,
            config.port,
            self.app,
            threaded=True,
            request_handler=_QuietHandler,
            ssl_context=self._tls.server_context(),
        )
        self.port: int = self._server.server_port
        self.url: str = f"https://{config.host}:{self.port}"
        self.org.base_url = self.url
        self.org_id: str = config.org_id
        self._thread = threading.Thread(target=self._server.serve_forever, name="sf-emulator-http", daemon=True)
        self._stopped = False

    def _start(self) -> None:
        self.outbound.start()
        self.cdc.start()
        if self._persistence is not None:
            self._persistence.start()
        self._thread.start()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.outbound.stop()
        self.cdc.stop()
        if self._persistence is not None:
            self._persistence.stop()
        shutil.rmtree(self._tls.directory, ignore_errors=True)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------- data ----------------
    def seed(self, sobject: str, records: list[dict[str, Any]]) -> list[str]:
        """Insert existing org data (validated; no outbound messages or change events); returns ids."""
        return controls.seed(self.org, sobject, records)

    def records(self, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """All records of an object as REST JSON values (datetimes 2024-01-31T10:00:00.000+0000)."""
        return controls.records(self.org, sobject, include_deleted)

    def user_change(
        self,
        op: str,
        sobject: str,
        record_id: str | None = None,
        fields: dict[str, Any] | None = None,
        user_id: str | None = None,
        origin: str | None = None,
    ) -> dict[str, Any]:
        """A change made by a Salesforce user (not through the API): fires outbound messages and CDC.

        Its changeOrigin is Lightning Experience's (`ui_change_origin`) unless `origin` says otherwise."""
        body: dict[str, Any] = {"op": op, "sobject": sobject, "id": record_id, "fields": fields or {}}
        if user_id:
            body["user_id"] = user_id
        if origin is not None:
            body["origin"] = origin
        return controls.user_change(self.org, body)

    # ---------------- auth, limits, faults, counters ----------------
    def issue_token(self) -> str:
        """A session for the integration user, without going through OAuth."""
        return self.org.sessions.issue(self.config.user_id).token

    def expire_sessions(self, token: str | None = None) -> int:
        return self.org.sessions.expire(token)

    def set_limits(self, max: int | None = None, used: int | None = None, seconds_ago: float = 0.0) -> None:
        """The daily allocation and/or the usage (`used` calls made `seconds_ago` on the org's clock)."""
        self.org.limits.set(max, used, seconds_ago)

    def add_api_usage(self, calls: int, seconds_ago: float = 0.0) -> None:
        """More usage, made `seconds_ago`: it leaves the rolling window `api_usage_window_seconds` later."""
        self.org.limits.add(calls, seconds_ago)

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change runtime options (config.RUNTIME_OPTIONS) while the org runs; reset() restores them."""
        return controls.configure(self.org, options)

    def api_usage(self) -> tuple[int, int]:
        return self.org.limits.used, self.org.limits.max

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """E.g. add_fault(kind="collections", status=503, error_code="SERVER_UNAVAILABLE", rate=1.0, count=2)."""
        added = self.org.faults.add(rule)
        return dict(added.__dict__)

    def set_latency(self, milliseconds: int) -> None:
        self.org.faults.latency_ms = milliseconds

    def clear_faults(self) -> None:
        self.org.faults.clear()

    def counters(self) -> dict[str, Any]:
        return self.org.counters.snapshot()

    def reset_counters(self) -> None:
        self.org.counters.reset()

    # ---------------- outbound, CDC, clock, reset ----------------
    def outbound_deliveries(self) -> list[dict[str, Any]]:
        return self.outbound.deliveries()

    def outbound_pending(self) -> list[dict[str, Any]]:
        return self.outbound.pending()

    def cdc_events(self) -> list[dict[str, Any]]:
        return self.cdc.events()

    def emit_gap(self, sobject: str, change_type: str, record_ids: list[str] | None = None) -> dict[str, Any]:
        return self.cdc.emit_gap(sobject, change_type, record_ids or [], self.config.admin_user_id)

    def advance_clock(self, seconds: float) -> None:
        self.org.clock.advance(seconds)

    def reset(self) -> None:
        controls.reset(self.org, self.outbound, self.cdc)


def start_emulator(config: EmulatorConfig | None = None) -> RunningEmulator:
    """Start serving in a background thread; stop() (or a with-block) shuts it down."""
    emulator = RunningEmulator(config or EmulatorConfig())
    emulator._start()
    return emulator
