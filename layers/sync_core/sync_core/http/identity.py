"""Who calls: the principal API Gateway's authoriser vouched for (JWT subject or IAM principal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync_core.config import get_settings
from sync_core.http.roles import Role, roles_named, roles_of_principal

ANONYMOUS = "anonymous"
# JWT claims that carry group memberships or granted scopes (Cognito, most OIDC providers, OAuth scopes).
_ROLE_CLAIMS = ("cognito:groups", "groups", "scope", "scp")


@dataclass(frozen=True)
class Caller:
    """The caller of one request and its hub roles (sync_core.http.roles says where they come from)."""

    id: str
    roles: frozenset[Role] = frozenset()

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


def _claim_values(value: Any) -> list[str]:
    """A claim as a list: API Gateway hands JWT arrays over as "[a b]" strings, scopes as "a b"."""
    if isinstance(value, list):
        return [str(item) for item in value if str(item)]
    text = str(value).strip().removeprefix("[").removesuffix("]")
    return [part for part in text.replace(",", " ").split() if part]


def caller_from_event(event: dict[str, Any]) -> Caller:
    """The authorised caller: a JWT subject, or an IAM principal ARN (the authorisers in template.yaml).

    The local gateway puts its documented X-Hub-User header into the JWT claims, as a JWT authoriser would.
    """
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    if claims.get("sub"):
        values = [value for claim in _ROLE_CLAIMS if claim in claims for value in _claim_values(claims[claim])]
        return Caller(id=str(claims["sub"]), roles=roles_named(values))
    iam = authorizer.get("iam") or {}
    if iam.get("userArn"):
        arn = str(iam["userArn"])
        return Caller(id=arn, roles=roles_of_principal(arn, get_settings().iam_role_map))
    return Caller(id=ANONYMOUS)
