"""Who calls: the principal API Gateway's authoriser vouched for (JWT subject or IAM principal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ANONYMOUS = "anonymous"
# JWT claims that carry group memberships or granted scopes (Cognito, most OIDC providers, OAuth scopes).
_ROLE_CLAIMS = ("cognito:groups", "groups", "scope", "scp")


@dataclass(frozen=True)
class Caller:
    """The caller of one request. `roles` are the groups and scopes the JWT carried (none for IAM callers);
    they are read here once so role checks can be added without touching every route."""

    id: str
    roles: tuple[str, ...] = ()


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
        roles = [role for claim in _ROLE_CLAIMS if claim in claims for role in _claim_values(claims[claim])]
        return Caller(id=str(claims["sub"]), roles=tuple(dict.fromkeys(roles)))
    iam = authorizer.get("iam") or {}
    if iam.get("userArn"):
        return Caller(id=str(iam["userArn"]))
    return Caller(id=ANONYMOUS)
