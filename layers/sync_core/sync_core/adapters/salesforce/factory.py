"""Wiring: a SalesforceClient from Settings (build one per run; tokens are reused across runs in a container)."""

from __future__ import annotations

from functools import cache, partial

from sync_core.adapters.aws import dynamodb_client
from sync_core.adapters.clock import SystemClock
from sync_core.adapters.dynamodb.salesforce_budget import DynamoApiBudgetStore
from sync_core.adapters.salesforce.auth import TokenSource, load_credentials
from sync_core.adapters.salesforce.client import ClientOptions, SalesforceClient, http_session
from sync_core.config import Settings
from sync_core.ports.stores import Clock


def client_options(settings: Settings) -> ClientOptions:
    return ClientOptions(
        hub_client_id=settings.hub_client_id,
        api_budget_share=settings.api_budget_share,
        api_calls_per_run=settings.api_calls_per_run,
        bulk_threshold=settings.bulk_threshold,
        ca_bundle=settings.salesforce_ca_bundle,
    )


@cache
def token_source(secret_arn: str, ca_bundle: str | None) -> TokenSource:
    """One token per secret and container: a warm Lambda reuses its session instead of logging in again."""
    options = ClientOptions(
        hub_client_id="", api_budget_share=1, api_calls_per_run=1, bulk_threshold=1, ca_bundle=ca_bundle
    )
    # Its own session: token requests are not API calls and must not count against the budget.
    http = http_session(options)
    http.headers.pop("Sforce-Call-Options", None)
    return TokenSource(
        partial(load_credentials, secret_arn),
        http,
        timeout=options.timeout,
        fresh_credentials=partial(load_credentials, secret_arn, force_fetch=True),  # after a refusal: rotated?
    )


def build_salesforce_client(settings: Settings, *, clock: Clock | None = None) -> SalesforceClient:
    """A client whose per-run cap starts now, on the shared token and the shared daily budget count."""
    return SalesforceClient(
        tokens=token_source(settings.require("SALESFORCE_SECRET_ARN"), settings.salesforce_ca_bundle),
        budget_store=DynamoApiBudgetStore(dynamodb_client(), sync_config_table=settings.require("SYNC_CONFIG_TABLE")),
        clock=clock or SystemClock(),
        options=client_options(settings),
    )


def clear_salesforce_caches() -> None:
    """Forget cached tokens (tests, or after rotating the connected app)."""
    token_source.cache_clear()
