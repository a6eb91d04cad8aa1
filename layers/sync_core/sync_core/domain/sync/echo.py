"""Echoes: Salesforce telling the hub about the hub's own write, recognised by the values, not the origin.

Whether changeOrigin carries the hub's client id for sObject Collections writes is not confirmed, so the
sync does not rely on it: after each sync the state keeps a hash per mapped Salesforce field of the values
last written (or applied). A change whose every mapped field hashes the same only repeats them.
Check it after the stamp merge and before conflict detection: an echo that arrives after the user
edited again must not count as Salesforce changing the record.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sync_core.domain.sync.translate import field_hash


def repeats_last_sync(
    change_values: Mapping[str, Any], synced_field_hashes: Mapping[str, str], *, imported: Collection[str] = ()
) -> bool:
    """True when every mapped field the change carries holds the value last synced (an echo, or nothing new).

    Fields the mapping does not import (LastModifiedDate, formula fields) say nothing either way. A field the
    mapping imports that was never synced (no hash: a record created from a change that did not name it)
    is news, not an echo. A record never synced has no hashes: nothing is an echo of it.
    """
    if not synced_field_hashes:
        return False
    mapped = {name.lower() for name in imported}
    for name, value in change_values.items():
        held = synced_field_hashes.get(name.lower())
        if held is None:
            if name.lower() in mapped:
                return False
            continue
        if held != field_hash(value):
            return False
    return True
