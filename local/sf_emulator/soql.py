"""A SOQL subset: lexer, parser and evaluator with Salesforce's errors (MALFORMED_QUERY, INVALID_FIELD, ...).

Supported: SELECT field list | COUNT() | COUNT(field) [alias] | FIELDS(ALL|STANDARD|CUSTOM); FROM one object;
WHERE with = != <> < <= > >= LIKE IN NOT IN, AND / OR / NOT, parentheses, null, true/false, numbers, quoted strings
with escapes, date and datetime literals and date keywords (TODAY, LAST_N_DAYS:n ...); ORDER BY (ASC/DESC,
NULLS FIRST/LAST, several keys); LIMIT; OFFSET (max 2000).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from . import values
from .errors import SalesforceError
from .ids import is_valid_id, to18
from .schema import FieldDef, ObjectDef

KEYWORDS = frozenset(
    {
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "like",
        "order",
        "by",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "limit",
        "offset",
        "null",
        "true",
        "false",
        "group",
        "having",
        "with",
        "for",
        "includes",
        "excludes",
    }
)
DATE_KEYWORDS = frozenset(
    {
        "today",
        "yesterday",
        "tomorrow",
        "this_week",
        "last_week",
        "next_week",
        "this_month",
        "last_month",
        "next_month",
        "this_year",
        "last_year",
        "next_year",
    }
)
DATE_N_KEYWORDS = frozenset({"last_n_days", "next_n_days", "n_days_ago", "last_n_weeks", "next_n_weeks"})
FIELDS_MAX_LIMIT = 200
FIELDS_LIMIT_MESSAGE = "The SOQL FIELDS function must have a LIMIT of at most 200"
INVALID_TYPE_SUFFIX = (
    "If you are attempting to use a custom object, be sure to append the '__c' after the entity name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
INVALID_FIELD_SUFFIX = (
    "If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})(?![\dT])
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Token:
    kind: str  # datetime date number string op punct ident eof
    text: str
    pos: int
    value: Any = None
    like: str | None = None  # regex for LIKE patterns

    @property
    def lower(self) -> str:
        return self.text.lower()


@dataclass
class Literal:
    kind: str  # string number bool null date datetime dateliteral
    value: Any
    pos: int
    like: str | None = None


@dataclass
class Condition:
    field: str
    op: str  # = != < <= > >= like in notin
    values: list[Literal]
    pos: int
    fdef: FieldDef | None = None


@dataclass
class BoolOp:
    op: str  # and | or | not
    items: list[Condition | BoolOp]


@dataclass
class OrderKey:
    field: str
    pos: int
    descending: bool = False
    nulls_last: bool | None = None
    fdef: FieldDef | None = None


@dataclass
class Query:
    text: str
    sobject: str = ""
    sobject_pos: int = 0
    fields: list[tuple[str, int]] = field(default_factory=list)
    fields_macro: str | None = None
    count_only: bool = False
    aggregate: tuple[str | None, str] | None = None  # (field or None, alias)
    where: Condition | BoolOp | None = None
    order: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    obj: ObjectDef | None = None
    selected: list[FieldDef] = field(default_factory=list)


def _error(query: str, pos: int, code: str, detail: str) -> SalesforceError:
    line_start = query.rfind("\n", 0, pos) + 1
    line_end = query.find("\n", pos)
    line = query[line_start : line_end if line_end != -1 else len(query)]
    row = query.count("\n", 0, pos) + 1
    col = pos - line_start + 1
    message = f"\n{line}\n{' ' * (col - 1)}^\nERROR at Row:{row}:Column:{col}\n{detail}"
    return SalesforceError(400, code, message, include_fields=False)


def _unescape(query: str, body: str, pos: int) -> tuple[str, str]:
    """String value and a LIKE regex (\\% and \\_ are literal there)."""
    out: list[str] = []
    regex: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                regex.append(re.escape(_ESCAPES[nxt]))
            elif nxt in "%_":
                out.append(nxt)
                regex.append(re.escape(nxt))
            else:
                raise _error(
                    query,
                    pos + i,
                    "MALFORMED_QUERY",
                    f"Invalid string literal '{body}'. Illegal character sequence '\\{nxt}' in string literal.",
                )
            i += 2
            continue
        out.append(char)
        regex.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return "".join(out), "".join(regex)


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN_RE.match(query, pos)
        if not match:
            bad = query[pos:].split(None, 1)[0] if query[pos:].strip() else query[pos]
            raise _error(query, pos, "MALFORMED_QUERY", f"unexpected token: '{bad}'")
        kind = match.lastgroup or ""
        text = match.group()
        if kind != "ws":
            token = Token(kind, text, pos)
            if kind == "string":
                token.value, token.like = _unescape(query, text[1:-1], pos + 1)
            tokens.append(token)
        pos = match.end()
    tokens.append(Token("eof", "", len(query)))
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def unexpected(self, token: Token | None = None) -> SalesforceError:
        token = token or self.peek()
        if token.kind == "eof":
            return _error(self.query, max(token.pos - 1, 0), "MALFORMED_QUERY", "unexpected token: <EOF>")
        return _error(self.query, token.pos, "MALFORMED_QUERY", f"unexpected token: '{token.text}'")

    def is_kw(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == "ident" and token.lower == word

    def expect_kw(self, word: str) -> Token:
        if not self.is_kw(word):
            raise self.unexpected()
        return self.next()

    def expect_punct(self, char: str) -> Token:
        token = self.peek()
        if token.kind != "punct" or token.text != char:
            raise self.unexpected()
        return self.next()

    def parse(self) -> Query:
        q = Query(text=self.query)
        self.expect_kw("select")
        self.parse_select_list(q)
        self.expect_kw("from")
        token = self.next()
        if token.kind != "ident" or token.lower in KEYWORDS:
            raise self.unexpected(token)
        q.sobject, q.sobject_pos = token.text, token.pos
        if self.is_kw("where"):
            self.next()
            q.where = self.parse_or()
        for word in ("group", "having", "with", "for"):
            if self.is_kw(word):
                raise _error(
                    self.query, self.peek().pos, "MALFORMED_QUERY", f"{word.upper()} is not supported by the emulator"
                )
        if self.is_kw("order"):
            self.next()
            self.expect_kw("by")
            q.order.append(self.parse_order_key())
            while self.peek().kind == "punct" and self.peek().text == ",":
                self.next()
                q.order.append(self.parse_order_key())
        if self.is_kw("limit"):
            self.next()
            q.limit = self.parse_int()
        if self.is_kw("offset"):
            self.next()
            token = self.peek()
            q.offset = self.parse_int()
            if q.offset > 2000:
                raise _error(self.query, token.pos, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        if self.peek().kind != "eof":
            raise self.unexpected()
        return q

    def parse_int(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)

    def parse_select_list(self, q: Query) -> None:
        while True:
            token = self.next()
            if token.kind != "ident":
                raise self.unexpected(token)
            nxt = self.peek()
            if token.lower == "count" and nxt.kind == "punct" and nxt.text == "(":
                self.next()
                inner = self.next()
                if inner.kind == "punct" and inner.text == ")":
                    if q.fields or q.aggregate:
                        raise self.unexpected(token)
                    q.count_only = True
                else:
                    if inner.kind != "ident":
                        raise self.unexpected(inner)
                    self.expect_punct(")")
                    alias = "expr0"
                    if self.peek().kind == "ident" and self.peek().lower not in KEYWORDS:
                        alias = self.next().text
                    q.aggregate = (inner.text, alias)
            elif token.lower == "fields" and nxt.kind == "punct" and nxt.text == "(":
                self.next()
                macro = self.next()
                if macro.kind != "ident" or macro.lower not in ("all", "standard", "custom"):
                    raise self.unexpected(macro)
                self.expect_punct(")")
                q.fields_macro = macro.lower
            else:
                if token.lower in KEYWORDS:
                    raise self.unexpected(token)
                q.fields.append((token.text, token.pos))
            if q.count_only and self.is_kw("from"):
                return
            if self.peek().kind == "punct" and self.peek().text == ",":
                if q.count_only:
                    raise self.unexpected()
                self.next()
                continue
            return

    def parse_order_key(self) -> OrderKey:
        token = self.next()
        if token.kind != "ident" or token.lower in KEYWORDS:
            raise self.unexpected(token)
        key = OrderKey(field=token.text, pos=token.pos)
        if self.is_kw("asc") or self.is_kw("desc"):
            key.descending = self.next().lower == "desc"
        if self.is_kw("nulls"):
            self.next()
            which = self.next()
            if which.kind != "ident" or which.lower not in ("first", "last"):
                raise self.unexpected(which)
            key.nulls_last = which.lower == "last"
        return key

    def parse_or(self) -> Condition | BoolOp:
        """A condition expression: operands joined by one kind of logical operator.

        Salesforce requires parentheses whenever AND and OR are mixed ("Parentheses are required whenever you
        mix the operators", SOQL and SOSL Reference, Logical Operators), so `a AND b OR c` is MALFORMED_QUERY
        rather than being read with AND binding tighter.
        """
        items = [self.parse_not()]
        joiner: str | None = None
        while self.is_kw("and") or self.is_kw("or"):
            word = self.peek().lower
            if joiner is not None and word != joiner:
                raise self.unexpected()
            joiner = word
            self.next()
            items.append(self.parse_not())
        return items[0] if joiner is None else BoolOp(joiner, items)

    def parse_not(self) -> Condition | BoolOp:
        if self.is_kw("not"):
            self.next()
            return BoolOp("not", [self.parse_not()])
        token = self.peek()
        if token.kind == "punct" and token.text == "(":
            self.next()
            expr = self.parse_or()
            self.expect_punct(")")
            return expr
        return self.parse_condition()

    def parse_condition(self) -> Condition:
        token = self.next()
        if token.kind != "ident" or token.lower in KEYWORDS:
            raise self.unexpected(token)
        op_token = self.next()
        if op_token.kind == "op":
            op = "!=" if op_token.text == "<>" else op_token.text
            return Condition(token.text, op, [self.parse_literal()], token.pos)
        if op_token.kind == "ident" and op_token.lower == "like":
            return Condition(token.text, "like", [self.parse_literal()], token.pos)
        negate = False
        if op_token.kind == "ident" and op_token.lower == "not" and self.is_kw("in"):
            self.next()
            negate = True
        elif not (op_token.kind == "ident" and op_token.lower == "in"):
            raise self.unexpected(op_token)
        self.expect_punct("(")
        if self.is_kw("select"):
            raise _error(
                self.query, self.peek().pos, "MALFORMED_QUERY", "semi-join subqueries are not supported by the emulator"
            )
        items = [self.parse_literal()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.next()
            items.append(self.parse_literal())
        self.expect_punct(")")
        return Condition(token.text, "notin" if negate else "in", items, token.pos)

    def parse_literal(self) -> Literal:
        token = self.next()
        if token.kind == "string":
            return Literal("string", token.value, token.pos, token.like)
        if token.kind == "number":
            number = float(token.text)
            return Literal(
                "number", int(number) if number.is_integer() and "." not in token.text else number, token.pos
            )
        if token.kind == "date":
            parsed = values.parse_date(token.text)
            if parsed is None:
                raise self.unexpected(token)
            return Literal("date", parsed, token.pos)
        if token.kind == "datetime":
            parsed_dt = values.parse_datetime(token.text)
            if parsed_dt is None:
                raise self.unexpected(token)
            return Literal("datetime", parsed_dt, token.pos)
        if token.kind == "ident":
            word = token.lower
            if word == "null":
                return Literal("null", None, token.pos)
            if word in ("true", "false"):
                return Literal("bool", word == "true", token.pos)
            if word in DATE_KEYWORDS:
                return Literal("dateliteral", (word, 0), token.pos)
            if word in DATE_N_KEYWORDS:
                self.expect_punct(":")
                return Literal("dateliteral", (word, self.parse_int()), token.pos)
        raise self.unexpected(token)


def parse(query: str) -> Query:
    return _Parser(query).parse()


# ---------------- resolution against the schema ----------------


def resolve(q: Query, schemas: dict[str, ObjectDef]) -> Query:
    obj = schemas.get(q.sobject.lower())
    if obj is None:
        raise _error(
            q.text, q.sobject_pos, "INVALID_TYPE", f"sObject type '{q.sobject}' is not supported. {INVALID_TYPE_SUFFIX}"
        )
    q.obj = obj

    def lookup(name: str, pos: int) -> FieldDef:
        fdef = obj.field(name)
        if fdef is None:
            if "." in name:
                rel = name.split(".", 1)[0]
                raise _error(
                    q.text,
                    pos,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{rel}' in field path. "
                    "If you are attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe call for the "
                    "appropriate names.",
                )
            raise _error(
                q.text, pos, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'. {INVALID_FIELD_SUFFIX}"
            )
        return fdef

    if q.fields_macro:
        q.selected = [
            f for f in obj.fields.values() if q.fields_macro == "all" or (f.custom == (q.fields_macro == "custom"))
        ]
    for name, pos in q.fields:
        fdef = lookup(name, pos)
        if fdef in q.selected:
            raise _error(q.text, pos, "MALFORMED_QUERY", f"duplicate field selected: {fdef.name}")
        q.selected.append(fdef)
    if q.aggregate and q.aggregate[0]:
        lookup(q.aggregate[0], q.sobject_pos)
    if not q.selected and not q.count_only and not q.aggregate:
        raise _error(q.text, q.sobject_pos, "MALFORMED_QUERY", "unexpected token: 'FROM'")

    def visit(node: Condition | BoolOp) -> None:
        if isinstance(node, BoolOp):
            for item in node.items:
                visit(item)
            return
        node.fdef = lookup(node.field, node.pos)
        for literal in node.values:
            _check_literal(q.text, node, literal)

    if q.where is not None:
        visit(q.where)
    for key in q.order:
        key.fdef = lookup(key.field, key.pos)
    if q.fields_macro in ("all", "custom") and (q.limit is None or q.limit > FIELDS_MAX_LIMIT):
        # "FIELDS(ALL) and FIELDS(CUSTOM) are unbounded ... you must use LIMIT n, where n is 200 or less"
        # (SOQL and SOSL Reference, SELECT / FIELDS(): Bounded and Unbounded Queries); FIELDS(STANDARD) is bounded.
        raise SalesforceError(400, "MALFORMED_QUERY", FIELDS_LIMIT_MESSAGE, include_fields=False)
    return q


def _type_name(fdef: FieldDef) -> str:
    if fdef.type == "datetime":
        return "dateTime"
    if fdef.type in values.NUMBER_TYPES:
        return "double"
    return fdef.type


def _check_literal(text: str, cond: Condition, literal: Literal) -> None:
    fdef = cond.fdef
    assert fdef is not None
    if literal.kind == "null":
        if cond.op not in ("=", "!=", "in", "notin"):
            raise _error(text, literal.pos, "MALFORMED_QUERY", f"invalid operator for null value: {cond.op}")
        return
    kind = fdef.type
    ok: bool
    if kind in values.STRING_TYPES:
        ok = literal.kind == "string"
    elif kind in values.ID_TYPES:
        ok = literal.kind == "string"
        if ok and cond.op != "like" and not is_valid_id(literal.value):
            raise _error(text, literal.pos, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}")
    elif kind == "boolean":
        ok = literal.kind == "bool"
    elif kind in values.NUMBER_TYPES or kind == "int":
        ok = literal.kind == "number"
    elif kind == "date":
        ok = literal.kind in ("date", "dateliteral")
    elif kind == "datetime":
        ok = literal.kind in ("datetime", "dateliteral")
    else:
        ok = True
    if not ok:
        quoted = kind in values.STRING_TYPES or kind in values.ID_TYPES
        hint = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
        raise _error(
            text,
            literal.pos,
            "MALFORMED_QUERY",
            f"value of filter criterion for field '{fdef.name}' must be of type {_type_name(fdef)} and {hint}",
        )
    if cond.op == "like" and not (kind in values.STRING_TYPES or kind in values.ID_TYPES):
        raise _error(
            text, cond.pos, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {_type_name(fdef)} field: LIKE"
        )


# ---------------- evaluation ----------------


def _week_start(day: date) -> date:
    return day - timedelta(days=(day.weekday() + 1) % 7)  # weeks start on Sunday (US locale)


def _month_start(day: date, months: int = 0) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    return date(month_index // 12, month_index % 12 + 1, 1)


def date_range(name: str, n: int, today: date) -> tuple[date, date]:
    """[start, end) of a SOQL date literal, in days (UTC)."""
    one = timedelta(days=1)
    table: dict[str, Callable[[], tuple[date, date]]] = {
        "today": lambda: (today, today + one),
        "yesterday": lambda: (today - one, today),
        "tomorrow": lambda: (today + one, today + 2 * one),
        "last_n_days": lambda: (today - n * one, today + one),
        "next_n_days": lambda: (today + one, today + (n + 1) * one),
        "n_days_ago": lambda: (today - n * one, today - (n - 1) * one),
        "last_n_weeks": lambda: (_week_start(today) - 7 * n * one, _week_start(today)),
        "next_n_weeks": lambda: (_week_start(today) + 7 * one, _week_start(today) + 7 * (n + 1) * one),
        "this_week": lambda: (_week_start(today), _week_start(today) + 7 * one),
        "last_week": lambda: (_week_start(today) - 7 * one, _week_start(today)),
        "next_week": lambda: (_week_start(today) + 7 * one, _week_start(today) + 14 * one),
        "this_month": lambda: (_month_start(today), _month_start(today, 1)),
        "last_month": lambda: (_month_start(today, -1), _month_start(today)),
        "next_month": lambda: (_month_start(today, 1), _month_start(today, 2)),
        "this_year": lambda: (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "last_year": lambda: (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "next_year": lambda: (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
    }
    return table[name]()


def _comparable(fdef: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if fdef.type in values.ID_TYPES and isinstance(value, str):
        return to18(value) if is_valid_id(value) else value
    if isinstance(value, str):
        return value.lower()
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
    except TypeError:
        return False
    return False


def _match_literal(fdef: FieldDef, op: str, value: Any, literal: Literal, now: datetime) -> bool:
    if literal.kind == "null":
        return (value is None) if op in ("=", "in") else (value is not None)
    if op == "like":
        if value is None or literal.like is None:
            return False
        return re.fullmatch(literal.like, str(value), re.IGNORECASE | re.DOTALL) is not None
    if literal.kind == "dateliteral":
        name, n = literal.value
        start_day, end_day = date_range(name, n, now.date())
        if value is None:
            return op == "!="
        if fdef.type == "datetime":
            start: Any = datetime(start_day.year, start_day.month, start_day.day, tzinfo=UTC)
            end: Any = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC)
        else:
            start, end = start_day, end_day
        inside = bool(start <= value < end)
        outcome: dict[str, bool] = {
            "=": inside,
            "!=": not inside,
            "<": bool(value < start),
            "<=": bool(value < end),
            ">": bool(value >= end),
            ">=": bool(value >= start),
        }
        return outcome.get(op, False)
    left = _comparable(fdef, value)
    right = _comparable(fdef, literal.value)
    if fdef.type in values.NUMBER_TYPES or fdef.type == "int":
        left = float(left) if left is not None else None
        right = float(right) if right is not None else None
    if op == "!=" and left is None:
        return True
    return _compare(op, left, right)


def matches(node: Condition | BoolOp | None, record: dict[str, Any], now: datetime) -> bool:
    if node is None:
        return True
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(matches(item, record, now) for item in node.items)
        if node.op == "or":
            return any(matches(item, record, now) for item in node.items)
        return not matches(node.items[0], record, now)
    fdef = node.fdef
    assert fdef is not None
    value = record.get(fdef.name)
    if node.op == "in":
        return any(_match_literal(fdef, "=", value, lit, now) for lit in node.values)
    if node.op == "notin":
        return all(_match_literal(fdef, "!=", value, lit, now) for lit in node.values)
    return _match_literal(fdef, node.op, value, node.values[0], now)


def _sort_key(fdef: FieldDef, value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return calendar.timegm(value.timetuple())
    return value


def execute(q: Query, rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Filter, order and slice the rows (records as stored)."""
    selected = [row for row in rows if matches(q.where, row, now)]
    for key in reversed(q.order):
        fdef = key.fdef
        assert fdef is not None
        nulls_last = key.nulls_last if key.nulls_last is not None else key.descending
        present = [r for r in selected if r.get(fdef.name) is not None]
        missing = [r for r in selected if r.get(fdef.name) is None]
        present.sort(key=lambda r, f=fdef: _sort_key(f, r.get(f.name)), reverse=key.descending)  # type: ignore[misc]
        selected = present + missing if nulls_last else missing + present
    start = q.offset or 0
    end = start + q.limit if q.limit is not None else None
    return selected[start:end]
