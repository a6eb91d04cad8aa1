"""The emulated org: store, sessions, limits, faults, counters, cursors and jobs, plus the request/answer types."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import values
from .auth import Sessions
from .config import RUNTIME_OPTIONS, EmulatorConfig
from .errors import SalesforceError, json_parser_error
from .faults import ApiLimits, Counters, Faults
from .ids import IdFactory
from .schema import build_schemas
from .store import Store, Transaction

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass
class Call:
    """One REST call inside /services/data/vXX.X (also a Composite subrequest)."""

    method: str
    path: str  # after /services/data/vXX.X, e.g. /sobjects/Account/001...
    version: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    user_id: str
    txn: Transaction | None = None
    in_composite: bool = False
    force_all_or_none: bool = False  # Composite allOrNone applies to its Collections subrequests
    _json: Any = None
    _parsed: bool = False

    def json(self) -> Any:
        if not self._parsed:
            if not self.body.strip():
                raise json_parser_error("No content to map due to end-of-input at [line:1, column:0]")
            try:
                self._json = json.loads(self.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise json_parser_error(f"Unexpected character: {exc}") from None
            self._parsed = True
        return self._json

    @property
    def client(self) -> str | None:
        """`client=` from Sforce-Call-Options."""
        for part in self.headers.get("sforce-call-options", "").split(","):
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "client" and value.strip():
                return value.strip()
        return None


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable, bytes/str (raw), or None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE

    def payload(self) -> bytes:
        if self.body is None or self.status == 204:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and not self.content_type.startswith("application/json"):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False).encode()

    def json_body(self) -> Any:
        return self.body if not isinstance(self.body, (bytes, str)) else None


def error_reply(exc: SalesforceError) -> Reply:
    return Reply(exc.status, exc.body())


class Org:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.schemas = build_schemas(config.picklist_overrides, config.non_unique_external_ids)
        self.clock = values.Clock()
        self.ids = IdFactory()
        closed = {p.value for p in self.schemas["case"].fields["status"].picklist if p.closed}
        self.store = Store(self.schemas, self.ids, self.clock, {config.user_id, config.admin_user_id}, closed)
        self.sessions = Sessions(config)
        self.limits = ApiLimits(
            config.daily_api_limit,
            now=lambda: self.clock.now_precise().timestamp(),  # the window follows the org's clock (advance_clock)
            window_seconds=lambda: self.config.api_usage_window_seconds,
            overshoot_ratio=lambda: self.config.api_overshoot_ratio,
        )
        self.runtime_defaults = {name: getattr(config, name) for name in RUNTIME_OPTIONS}
        self.faults = Faults(config.random_seed)
        self.counters = Counters()
        self.base_url = ""  # set once the server is bound
        self.lock = threading.RLock()
        self.cursors: dict[str, Any] = {}
        self.bulk_jobs: dict[str, Any] = {}
        self.seed_standard_pricebook()

    def seed_standard_pricebook(self) -> None:
        obj = self.schemas["pricebook2"]
        if any(r["IsStandard"] for r in self.store.tables["pricebook2"].values()):
            return
        record_id = self.store.seed_record(
            obj, {"Name": "Standard Price Book", "IsActive": True}, self.config.admin_user_id
        )
        self.store.tables["pricebook2"][record_id]["IsStandard"] = True

    def origin(self, call: Call, api: str = "rest", collections: bool = False) -> str:
        base = f"com/salesforce/api/{api}/{call.version}"
        client = call.client
        if client and (not collections or self.config.cdc_client_in_collections):
            return f"{base};client={client}"
        return base

    @contextmanager
    def transaction(self, call: Call, collections: bool = False) -> Iterator[Transaction]:
        """Join the caller's transaction (Composite allOrNone) or open one."""
        if call.txn is not None:
            savepoint = call.txn.savepoint()
            try:
                yield call.txn
            except BaseException:
                self.store.rollback_to(call.txn, savepoint)
                raise
            return
        with self.store.transaction(
            call.user_id, self.origin(call, collections=collections or call.in_composite)
        ) as txn:
            yield txn
