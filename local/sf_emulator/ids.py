"""Salesforce record ids: 15-char case-sensitive ids and their 18-char checksum form."""

from __future__ import annotations

import re
import threading

_CHECKSUM_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def checksum_suffix(id15: str) -> str:
    """The three characters Salesforce appends to a 15-char id (case information of each 5-char chunk)."""
    out = []
    for chunk in range(3):
        flags = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << pos
        out.append(_CHECKSUM_CHARS[flags])
    return "".join(out)


def to18(value: str) -> str:
    return value if len(value) == 18 else value + checksum_suffix(value)


def is_valid_id(value: object) -> bool:
    """A well-formed 15- or 18-char id (the 18-char form must carry the right checksum)."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return False
    return len(value) == 15 or checksum_suffix(value[:15]) == value[15:]


def looks_like_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def same_id(a: str, b: str) -> bool:
    return a[:15] == b[:15]


def base62(number: int, width: int) -> str:
    chars = []
    while number:
        number, rem = divmod(number, 62)
        chars.append(_BASE62[rem])
    return "".join(reversed(chars)).rjust(width, "0")


class IdFactory:
    """Deterministic per-prefix counters: <prefix>Hb0<9 base62 chars> + checksum."""

    def __init__(self, pod: str = "Hb") -> None:
        self._pod = pod
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            number = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = number
        return to18(f"{prefix}{self._pod}0{base62(number, 9)}")

    def state(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def load(self, counters: dict[str, int]) -> None:
        with self._lock:
            self._counters = dict(counters)
