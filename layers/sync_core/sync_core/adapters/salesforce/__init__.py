"""The Salesforce adapter: the only package that imports simple_salesforce, requests and jwt.

Import it only from functions that call Salesforce (import-linter keeps it out of the others).
"""

from sync_core.adapters.salesforce.auth import AccessToken, AuthFlow, SalesforceCredentials, TokenSource
from sync_core.adapters.salesforce.budget_store import DynamoApiBudgetStore
from sync_core.adapters.salesforce.client import ClientOptions, SalesforceClient
from sync_core.adapters.salesforce.factory import build_salesforce_client, clear_salesforce_caches

__all__ = [
    "AccessToken",
    "AuthFlow",
    "ClientOptions",
    "DynamoApiBudgetStore",
    "SalesforceClient",
    "SalesforceCredentials",
    "TokenSource",
    "build_salesforce_client",
    "clear_salesforce_caches",
]
