"""In-memory, thread-safe record store with Salesforce's DML rules, transactions and change notifications."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from . import values
from .errors import SalesforceError, not_found
from .ids import IdFactory, is_valid_id, looks_like_id, to18
from .schema import AUTO_NUMBERS, EXTERNAL_ID_FIELD, USER_KEY_PREFIX, FieldDef, ObjectDef

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")
SYSTEM_FIELDS_ALL = (*SYSTEM_FIELDS, "SystemModstamp")
READ_ONLY_MESSAGE = (
    "Unable to create/update fields: {names}. Please check the security settings of this field and verify "
    "that it is read/write for your profile or permission set."
)


@dataclass
class Change:
    """One committed record change, as Outbound Messaging and CDC see it."""

    kind: str  # CREATE | UPDATE | DELETE | UNDELETE
    sobject: str
    record_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_fields: list[str]
    user_id: str
    origin: str
    transaction_key: str
    sequence_number: int


@dataclass
class Transaction:
    user_id: str
    origin: str
    key: str = field(default_factory=lambda: str(uuid.uuid4()))
    journal: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)

    def savepoint(self) -> tuple[int, int]:
        return len(self.journal), len(self.changes)


class Store:
    def __init__(
        self,
        schemas: dict[str, ObjectDef],
        ids: IdFactory,
        clock: values.Clock,
        user_ids: set[str],
        closed_case_statuses: set[str],
    ) -> None:
        self.schemas = schemas
        self.ids = ids
        self.clock = clock
        self.user_ids = user_ids
        self.closed_case_statuses = closed_case_statuses
        self.lock = threading.RLock()
        self.tables: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in schemas}
        self._ext_index: dict[tuple[str, str], dict[str, str]] = {}
        self._auto_numbers: dict[str, int] = {}
        self._by_prefix = {obj.key_prefix: obj for obj in schemas.values()}
        self.listeners: list[Callable[[list[Change]], None]] = []
        self.version = 0  # bumped on every commit (persistence)

    # ---------- lookup ----------
    def object(self, name: str) -> ObjectDef | None:
        return self.schemas.get(name.lower())

    def object_for_id(self, record_id: str) -> ObjectDef | None:
        return self._by_prefix.get(record_id[:3])

    def get(self, obj: ObjectDef, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.tables[obj.name.lower()].get(to18(record_id)) if looks_like_id(record_id) else None

    def find_by_external(self, obj: ObjectDef, fdef: FieldDef, value: str) -> str | None:
        """The one live record with this external id (the first, if a non-unique field matches several)."""
        matches = self.find_all_by_external(obj, fdef, value)
        return matches[0] if matches else None

    def find_all_by_external(self, obj: ObjectDef, fdef: FieldDef, value: str) -> list[str]:
        """Live records with this external id: at most one for a unique field (matched case-insensitively, as
        the hub's Hub_Id__c), any number for a non-unique one (matched exactly: Salesforce matches
        case-insensitively only fields with Unique and "Treat ABC and abc as duplicate values")."""
        with self.lock:
            if fdef.unique:
                found = self._ext_index.get((obj.name.lower(), fdef.name.lower()), {}).get(str(value).lower())
                return [found] if found else []
            rows = self.tables[obj.name.lower()].values()
            return [r["Id"] for r in rows if not r["IsDeleted"] and r.get(fdef.name) == str(value)]

    def scan(self, obj: ObjectDef, include_deleted: bool) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.tables[obj.name.lower()].values()
            return [dict(r) for r in rows if include_deleted or not r["IsDeleted"]]

    def exists_live(self, record_id: str) -> bool:
        if record_id[:3] == USER_KEY_PREFIX:
            return any(to18(record_id) == to18(u) for u in self.user_ids)
        obj = self.object_for_id(record_id)
        if obj is None:
            return False
        record = self.get(obj, record_id)
        return record is not None and not record["IsDeleted"]

    # ---------- transactions ----------
    @contextmanager
    def transaction(self, user_id: str, origin: str) -> Iterator[Transaction]:
        """All-or-nothing unit: changes are applied at once, rolled back on any exception, published on commit."""
        with self.lock:
            txn = Transaction(user_id=user_id, origin=origin)
            try:
                yield txn
            except BaseException:
                self.rollback_to(txn, (0, 0))
                raise
            if txn.changes:
                self.version += 1
                for listener in self.listeners:
                    listener(list(txn.changes))

    def rollback_to(self, txn: Transaction, savepoint: tuple[int, int]) -> None:
        journal_len, changes_len = savepoint
        with self.lock:
            while len(txn.journal) > journal_len:
                table, record_id, previous = txn.journal.pop()
                current = self.tables[table].get(record_id)
                if current is not None:
                    self._unindex(table, current)
                if previous is None:
                    self.tables[table].pop(record_id, None)
                else:
                    self.tables[table][record_id] = previous
                    self._index(table, previous)
            del txn.changes[changes_len:]

    def _write(self, txn: Transaction, obj: ObjectDef, record: dict[str, Any]) -> None:
        table = obj.name.lower()
        previous = self.tables[table].get(record["Id"])
        txn.journal.append((table, record["Id"], dict(previous) if previous is not None else None))
        if previous is not None:
            self._unindex(table, previous)
        self.tables[table][record["Id"]] = record
        self._index(table, record)

    def _index(self, table: str, record: dict[str, Any]) -> None:
        if record["IsDeleted"]:
            return
        for fdef in self.schemas[table].fields.values():
            if fdef.unique and record.get(fdef.name) is not None:
                self._ext_index.setdefault((table, fdef.name.lower()), {})[str(record[fdef.name]).lower()] = record[
                    "Id"
                ]

    def _unindex(self, table: str, record: dict[str, Any]) -> None:
        for fdef in self.schemas[table].fields.values():
            if fdef.unique and record.get(fdef.name) is not None:
                index = self._ext_index.get((table, fdef.name.lower()), {})
                if index.get(str(record[fdef.name]).lower()) == record["Id"]:
                    del index[str(record[fdef.name]).lower()]

    def _record_change(
        self,
        txn: Transaction,
        kind: str,
        obj: ObjectDef,
        record_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        changed: list[str],
    ) -> None:
        txn.changes.append(
            Change(
                kind=kind,
                sobject=obj.name,
                record_id=record_id,
                before=dict(before) if before is not None else None,
                after=dict(after) if after is not None else None,
                changed_fields=changed,
                user_id=txn.user_id,
                origin=txn.origin,
                transaction_key=txn.key,
                sequence_number=len(txn.changes) + 1,
            )
        )

    # ---------- value handling ----------
    def coerce(self, obj: ObjectDef, fdef: FieldDef, raw: Any) -> Any:
        """Parse one client value into its stored Python type, or raise Salesforce's error for it."""
        if raw is None:
            return False if fdef.type == "boolean" else None
        kind = fdef.type
        bad = SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {_xsd(kind)} from VALUE_STRING value {raw} "
            "or request may be missing a required field",
            include_fields=False,
        )
        if kind in values.STRING_TYPES or kind in values.ID_TYPES:
            if isinstance(raw, (bool, dict, list)):
                raise bad
            text = raw if isinstance(raw, str) else _number_text(raw)
            if text == "":
                return None
            if kind in values.ID_TYPES:
                return text
            if len(text) > fdef.length:
                raise SalesforceError(
                    400,
                    "STRING_TOO_LONG",
                    f"{fdef.label}: data value too large: {text[:100]} (max length={fdef.length})",
                    [fdef.name],
                )
            return text
        if kind == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0"):
                return raw.lower() in ("true", "1")
            raise bad
        if kind == "int":
            try:
                number = float(raw) if not isinstance(raw, bool) else None
            except (TypeError, ValueError):
                number = None
            if number is None or number != int(number):
                raise bad
            return int(number)
        if kind in values.NUMBER_TYPES:
            if isinstance(raw, bool):
                raise bad
            try:
                return float(raw)
            except (TypeError, ValueError):
                raise bad from None
        if kind == "date":
            parsed_date = values.parse_date(raw) if isinstance(raw, str) else None
            if parsed_date is None:
                raise bad
            return parsed_date
        if kind == "datetime":
            parsed = values.parse_datetime(raw) if isinstance(raw, str) else None
            if parsed is None:
                raise bad
            return parsed.replace(microsecond=(parsed.microsecond // 1000) * 1000)
        return raw

    def _check_fields(self, obj: ObjectDef, data: dict[str, Any], creating: bool) -> dict[str, Any]:
        """Unknown / read-only fields, then typed values (keys canonicalised)."""
        typed: dict[str, Any] = {}
        read_only: list[str] = []
        for key, raw in data.items():
            if key == "attributes":
                continue
            fdef = obj.field(key)
            if fdef is None:
                raise SalesforceError(
                    400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", include_fields=False
                )
            allowed = fdef.createable if creating else fdef.updateable
            if not allowed:
                read_only.append(fdef.name)
                continue
            typed[fdef.name] = self.coerce(obj, fdef, raw)
        if read_only:
            raise SalesforceError(
                400, "INVALID_FIELD_FOR_INSERT_UPDATE", READ_ONLY_MESSAGE.format(names=", ".join(read_only)), read_only
            )
        return typed

    def _validate(self, obj: ObjectDef, record: dict[str, Any], touched: set[str]) -> None:
        missing = [f.name for f in obj.fields.values() if f.required and record.get(f.name) is None]
        for fdef in obj.fields.values():
            value = record.get(fdef.name)
            if fdef.name not in touched:
                continue
            if fdef.restricted and value is not None and value not in {p.value for p in fdef.picklist}:
                raise SalesforceError(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"bad value for restricted picklist field: {value}",
                    [fdef.name],
                )
            if fdef.type == "email" and value is not None and not _EMAIL_RE.match(value):
                raise SalesforceError(
                    400, "INVALID_EMAIL_ADDRESS", f"{fdef.label}: invalid email address: {value}", [fdef.name]
                )
        if missing:
            raise SalesforceError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for fdef in obj.fields.values():
            value = record.get(fdef.name)
            if fdef.type != "reference" or fdef.name not in touched or value is None:
                continue
            target_prefixes = [
                USER_KEY_PREFIX if t == "User" else self.schemas[t.lower()].key_prefix for t in fdef.reference_to
            ]
            if not is_valid_id(value) or value[:3] not in target_prefixes:
                target = fdef.reference_to[0]
                raise SalesforceError(
                    400, "MALFORMED_ID", f"{target} ID: id value of incorrect type: {value}", [fdef.name]
                )
            if not self.exists_live(value):
                raise SalesforceError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fdef.name])
            record[fdef.name] = to18(value)
        for fdef in obj.fields.values():
            value = record.get(fdef.name)
            if fdef.unique and value is not None and fdef.name in touched:
                other = self.find_by_external(obj, fdef, value)
                if other is not None and other != record["Id"]:
                    raise SalesforceError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {fdef.name} duplicates value on record with id: {other}",
                        [],
                    )
        self._object_rules(obj, record, touched)

    def _object_rules(self, obj: ObjectDef, record: dict[str, Any], touched: set[str]) -> None:
        if obj.name == "PricebookEntry" and {"Pricebook2Id", "Product2Id"} & touched:
            entries = [r for r in self.tables["pricebookentry"].values() if not r["IsDeleted"]]
            for other in entries:
                if (
                    other["Id"] != record["Id"]
                    and other["Pricebook2Id"] == record["Pricebook2Id"]
                    and other["Product2Id"] == record["Product2Id"]
                ):
                    raise SalesforceError(
                        400, "DUPLICATE_VALUE", "This price definition already exists in this price book", []
                    )
            book = self.tables["pricebook2"].get(record["Pricebook2Id"])
            if book is not None and not book["IsStandard"]:
                standard_ids = {r["Id"] for r in self.tables["pricebook2"].values() if r["IsStandard"]}
                if not any(
                    e["Pricebook2Id"] in standard_ids and e["Product2Id"] == record["Product2Id"] for e in entries
                ):
                    raise SalesforceError(
                        400,
                        "FIELD_INTEGRITY_EXCEPTION",
                        "You must define a standard price for this product before defining a custom price.",
                        [],
                    )

    def _derive(self, obj: ObjectDef, record: dict[str, Any], now: datetime) -> None:
        name = obj.name
        if name in ("Contact", "Lead"):
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(p for p in parts if p) or None
        elif name == "Case":
            closed = record.get("Status") in self.closed_case_statuses
            if closed and not record.get("IsClosed"):
                record["ClosedDate"] = now
            elif not closed:
                record["ClosedDate"] = None
            record["IsClosed"] = closed
        elif name == "Opportunity":
            stage = record.get("StageName")
            record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            record["IsWon"] = stage == "Closed Won"
        elif name == "PricebookEntry":
            product = self.tables["product2"].get(record.get("Product2Id") or "")
            record["Name"] = product["Name"] if product else None
            record["ProductCode"] = product["ProductCode"] if product else None
        elif name in ("QuoteLineItem", "OrderItem"):
            entry = self.tables["pricebookentry"].get(record.get("PricebookEntryId") or "")
            if entry and not record.get("Product2Id"):
                record["Product2Id"] = entry["Product2Id"]
            quantity, price = record.get("Quantity"), record.get("UnitPrice")
            discount = record.get("Discount") or 0.0
            record["TotalPrice"] = (
                round(quantity * price * (1 - discount / 100.0), 2)
                if quantity is not None and price is not None
                else None
            )

    def _apply_defaults(self, obj: ObjectDef, record: dict[str, Any], user_id: str) -> None:
        for fdef in obj.fields.values():
            if record.get(fdef.name) is not None:
                continue
            if fdef.type == "boolean":
                record[fdef.name] = bool(fdef.default)
            elif fdef.defaulted_on_create and fdef.picklist:
                record[fdef.name] = next((p.value for p in fdef.picklist if p.default), None)
        if obj.has_owner and record.get("OwnerId") is None:
            record["OwnerId"] = user_id
        if obj.name in AUTO_NUMBERS:
            fname, width, start = AUTO_NUMBERS[obj.name]
            number = self._auto_numbers.get(obj.name, start - 1) + 1
            self._auto_numbers[obj.name] = number
            record[fname] = str(number).zfill(width)

    # ---------- DML ----------
    def insert(self, txn: Transaction, obj: ObjectDef, data: dict[str, Any]) -> str:
        if any(k.lower() == "id" for k in data if k != "attributes"):
            raise SalesforceError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        with self.lock:
            typed = self._check_fields(obj, data, creating=True)
            now = self.clock.now()
            record: dict[str, Any] = dict.fromkeys(obj.field_names())
            record.update(typed)
            record["Id"] = "pending"
            self._apply_defaults(obj, record, txn.user_id)
            touched = set(typed) | {"OwnerId"}
            self._validate(obj, record, touched)
            record["Id"] = self.ids.new(obj.key_prefix)
            record.update(
                IsDeleted=False,
                CreatedDate=now,
                CreatedById=txn.user_id,
                LastModifiedDate=now,
                LastModifiedById=txn.user_id,
                SystemModstamp=now,
            )
            self._derive(obj, record, now)
            self._write(txn, obj, record)
            self._record_change(txn, "CREATE", obj, record["Id"], None, record, [])
            return str(record["Id"])

    def live_record(self, obj: ObjectDef, record_id: str) -> dict[str, Any]:
        """The live record for an update or delete: MALFORMED_ID, NOT_FOUND or ENTITY_IS_DELETED otherwise."""
        if not is_valid_id(record_id) or record_id[:3] != obj.key_prefix:
            raise SalesforceError(
                400, "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {record_id}", ["Id"]
            )
        record = self.get(obj, record_id)
        if record is None:
            raise not_found()
        if record["IsDeleted"]:
            raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    def update(self, txn: Transaction, obj: ObjectDef, record_id: str, data: dict[str, Any]) -> str:
        data = {k: v for k, v in data.items() if k.lower() != "id"}
        with self.lock:
            current = self.live_record(obj, record_id)
            typed = self._check_fields(obj, data, creating=False)
            now = self.clock.now()
            record = dict(current)
            record.update(typed)
            self._validate(obj, record, set(typed))
            record.update(LastModifiedDate=now, LastModifiedById=txn.user_id, SystemModstamp=now)
            self._derive(obj, record, now)
            changed = [
                name
                for name in obj.field_names()
                if name not in ("SystemModstamp", "IsDeleted") and record.get(name) != current.get(name)
            ]
            if "LastModifiedDate" not in changed:
                changed.append("LastModifiedDate")
            self._write(txn, obj, record)
            self._record_change(txn, "UPDATE", obj, record["Id"], current, record, changed)
            return str(record["Id"])

    def upsert(
        self, txn: Transaction, obj: ObjectDef, ext_field: FieldDef, value: Any, data: dict[str, Any]
    ) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created)."""
        with self.lock:
            matches = self.find_all_by_external(obj, ext_field, value) if value not in (None, "") else []
            if len(matches) > 1:
                raise MultipleMatches(ext_field.name, str(value), matches)
            existing = matches[0] if matches else None
            body = {k: v for k, v in data.items() if k.lower() != ext_field.name.lower()}
            if existing is None:
                return self.insert(txn, obj, {**body, ext_field.name: value}), True
            return self.update(txn, obj, existing, body), False

    def delete(self, txn: Transaction, obj: ObjectDef, record_id: str) -> str:
        with self.lock:
            current = self.live_record(obj, record_id)
            now = self.clock.now()
            record = dict(current, IsDeleted=True, SystemModstamp=now)
            self._write(txn, obj, record)
            self._record_change(txn, "DELETE", obj, record["Id"], current, record, [])
            return str(record["Id"])

    def undelete(self, txn: Transaction, obj: ObjectDef, record_id: str) -> str:
        with self.lock:
            current = self.get(obj, record_id)
            if current is None:
                raise not_found()
            if not current["IsDeleted"]:
                raise SalesforceError(400, "UNDELETE_FAILED", "Entity is not in the recycle bin", [])
            record = dict(current, IsDeleted=False, SystemModstamp=self.clock.now())
            self._validate(obj, record, {f.name for f in obj.fields.values() if f.unique})
            self._write(txn, obj, record)
            self._record_change(txn, "UNDELETE", obj, record["Id"], current, record, [])
            return str(record["Id"])

    def hard_delete(self, txn: Transaction, obj: ObjectDef, record_id: str) -> str:
        with self.lock:
            current = self.get(obj, record_id)
            if current is None:
                raise not_found()
            table = obj.name.lower()
            txn.journal.append((table, current["Id"], dict(current)))
            self._unindex(table, current)
            del self.tables[table][current["Id"]]
            if not current["IsDeleted"]:
                self._record_change(txn, "DELETE", obj, current["Id"], current, None, [])
            return str(current["Id"])

    def seed_record(self, obj: ObjectDef, data: dict[str, Any], user_id: str) -> str:
        """Insert as existing org data: system fields may be given (CreatedDate etc.); no notifications."""
        system = {k: data[k] for k in data if k in ("CreatedDate", "LastModifiedDate", "SystemModstamp")}
        rest = {k: v for k, v in data.items() if k not in system}
        with self.lock:
            txn = Transaction(user_id=user_id, origin="")
            record_id = self.insert(txn, obj, rest)
            record = self.tables[obj.name.lower()][record_id]
            for key, raw in system.items():
                parsed = values.parse_datetime(raw) if isinstance(raw, str) else raw
                if isinstance(parsed, datetime):
                    record[key] = parsed
            self.version += 1
            return record_id

    # ---------- persistence ----------
    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {
                "ids": self.ids.state(),
                "auto_numbers": dict(self._auto_numbers),
                "tables": {
                    table: [{k: values.to_state(v) for k, v in rec.items()} for rec in rows.values()]
                    for table, rows in self.tables.items()
                },
            }

    def load(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.ids.load(state.get("ids", {}))
            self._auto_numbers = dict(state.get("auto_numbers", {}))
            self._ext_index.clear()
            for table in self.tables:
                self.tables[table] = {}
            for table, rows in state.get("tables", {}).items():
                obj = self.schemas.get(table)
                if obj is None:
                    continue
                for raw in rows:
                    record: dict[str, Any] = dict.fromkeys(obj.field_names())
                    for key, value in raw.items():
                        fdef = obj.field(key)
                        if fdef is not None:
                            record[fdef.name] = _restore(fdef, value)
                    self.tables[table][record["Id"]] = record
                    self._index(table, record)

    def clear(self) -> None:
        with self.lock:
            for table in self.tables:
                self.tables[table] = {}
            self._ext_index.clear()
            self._auto_numbers.clear()
            self.ids.load({})
            self.version += 1


class MultipleMatches(SalesforceError):
    """An upsert whose external id matches several records (a non-unique external id field): nothing is written.

    The sObject Rows by External ID resource answers 300 with the matching records' URLs ("If the external ID
    matches multiple existing records, then a 300 error is returned, and no records are created or updated").
    A Collections or Bulk row reports it as DUPLICATE_EXTERNAL_ID (the SOAP API StatusCode for "a user-specified
    external ID matches more than one record during an upsert"; the message text is ours).
    """

    def __init__(self, field_name: str, value: str, record_ids: list[str]) -> None:
        super().__init__(
            300,
            "DUPLICATE_EXTERNAL_ID",
            f"{field_name}: the external id {value} matches more than one record: {', '.join(record_ids)}",
            [field_name],
        )
        self.record_ids = record_ids


def ext_key(fdef: FieldDef, value: Any) -> str:
    """How one write compares external id values: case-insensitively for a unique field, exactly otherwise."""
    text = "" if value is None else str(value)
    return text.lower() if fdef.unique else text


def duplicate_external_id(value: Any) -> SalesforceError:
    """Two rows of one write (a Collections upsert, a Bulk 2.0 chunk) name the same external id: both fail.

    Not in Salesforce's REST docs; the text is the one real orgs send and public clients match on
    ("DUPLICATE_VALUE" with "Duplicate external id specified: <value>").
    """
    return SalesforceError(400, "DUPLICATE_VALUE", f"Duplicate external id specified: {value}", [])


def _restore(fdef: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if fdef.type == "datetime" and isinstance(value, str):
        return values.parse_datetime(value)
    if fdef.type == "date" and isinstance(value, str):
        return values.parse_date(value)
    return value


def _number_text(raw: Any) -> str:
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _xsd(kind: str) -> str:
    return {"datetime": "datetime", "date": "date", "boolean": "boolean", "int": "int"}.get(kind, "double")


def is_external_id_field(fdef: FieldDef | None) -> bool:
    return fdef is not None and (fdef.external_id or fdef.type == "id")


def stored_date(value: Any) -> date | None:
    return value if isinstance(value, date) and not isinstance(value, datetime) else None


DEFAULT_EXTERNAL_ID = EXTERNAL_ID_FIELD
