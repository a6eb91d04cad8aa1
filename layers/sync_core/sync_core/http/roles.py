"""Roles: what a caller may change, read from what its authoriser vouched for.

- agent: works cases (the case workflow, activities, related cases).
- integration: the back-office system that calls the records API.
- administrator: everything, and alone may change settings (case classes, workgroups, contracts, the
  assignment map) and, with the sync administration API, the sync itself.

A JWT caller's roles are its groups or scopes claims (`cognito:groups`, `groups`, `scope`, `scp`) naming a
role, either bare (`administrator`) or as an OAuth resource-server scope (`sync-hub/administrator`). An IAM
caller's roles come from HUB_IAM_ROLE_MAP, a JSON object from principal ARN patterns (shell-style `*`) to
role lists, e.g. {"arn:aws:sts::123456789012:assumed-role/erp-sync/*": ["integration"]}.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cache

from sync_core.config import ConfigurationError


class Role(StrEnum):
    AGENT = "agent"
    INTEGRATION = "integration"
    ADMINISTRATOR = "administrator"


def roles_named(values: Iterable[str]) -> frozenset[Role]:
    """The hub roles among claim values; other groups and scopes are not the hub's and are ignored."""
    known = {role.value: role for role in Role}
    found = set()
    for value in values:
        name = value.rsplit("/", 1)[-1]
        if name in known:
            found.add(known[name])
    return frozenset(found)


@cache
def iam_role_map(text: str | None) -> tuple[tuple[str, frozenset[Role]], ...]:
    """HUB_IAM_ROLE_MAP parsed once: (ARN pattern, roles) pairs, in the order written."""
    if not text or not text.strip():
        return ()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"HUB_IAM_ROLE_MAP is not JSON: {exc.msg}") from exc
    if not isinstance(parsed, Mapping) or not all(
        isinstance(pattern, str) and isinstance(roles, list) and all(isinstance(role, str) for role in roles)
        for pattern, roles in parsed.items()
    ):
        raise ConfigurationError('HUB_IAM_ROLE_MAP must map ARN patterns to role lists, e.g. {"arn:...": ["agent"]}')
    unknown = sorted({role for roles in parsed.values() for role in roles} - {role.value for role in Role})
    if unknown:
        raise ConfigurationError(f"HUB_IAM_ROLE_MAP names unknown roles {unknown}; known: {[r.value for r in Role]}")
    return tuple((pattern, frozenset(Role(role) for role in roles)) for pattern, roles in parsed.items())


def roles_of_principal(arn: str, role_map_text: str | None) -> frozenset[Role]:
    """Every role whose pattern matches the IAM principal's ARN."""
    roles: set[Role] = set()
    for pattern, granted in iam_role_map(role_map_text):
        if fnmatch.fnmatchcase(arn, pattern):
            roles |= granted
    return frozenset(roles)
