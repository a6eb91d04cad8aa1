"""The Salesforce adapter: the only package that imports simple_salesforce, requests and jwt.

Import it only from functions that call Salesforce (import-linter keeps it out of the others). Its names
load on first use (PEP 562), so importing one submodule never drags in the HTTP client and the token code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync_core.adapters.salesforce.auth import AccessToken, AuthFlow, SalesforceCredentials, TokenSource
    from sync_core.adapters.salesforce.client import ClientOptions, SalesforceClient
    from sync_core.adapters.salesforce.factory import build_salesforce_client, clear_salesforce_caches

_HOMES = {
    "AccessToken": "auth",
    "AuthFlow": "auth",
    "SalesforceCredentials": "auth",
    "TokenSource": "auth",
    "ClientOptions": "client",
    "SalesforceClient": "client",
    "build_salesforce_client": "factory",
    "clear_salesforce_caches": "factory",
}

__all__ = [
    "AccessToken",
    "AuthFlow",
    "ClientOptions",
    "SalesforceClient",
    "SalesforceCredentials",
    "TokenSource",
    "build_salesforce_client",
    "clear_salesforce_caches",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
