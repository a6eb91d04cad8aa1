"""Configuration of the emulated org: credentials, limits, outbound messages, CDC, persistence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ORG_ID = "00D000000000001AAA"
DEFAULT_INTEGRATION_USER_ID = "005000000000001AAA"
DEFAULT_ADMIN_USER_ID = "005000000000002AAA"
DEFAULT_ACTION_ID = "04k000000000001AAA"
DEFAULT_RELAY_CHANNEL_ID = "0YL000000000001GAA"


@dataclass
class PicklistValue:
    """One value of a picklist; `closed` marks Case statuses whose IsClosed is true."""

    value: str
    default: bool = False
    closed: bool = False


@dataclass
class OutboundMessageConfig:
    """One Salesforce outbound message definition (workflow/flow action) for one object."""

    sobject: str
    fields: list[str]
    endpoint_url: str
    action_id: str = DEFAULT_ACTION_ID
    user_id: str = DEFAULT_INTEGRATION_USER_ID
    send_session_id: bool = False
    # Skip changes made by this user id (Salesforce's advice: the integration user has
    # "Send Outbound Messages" disabled, so its own writes never echo back). None = notify all.
    exclude_user_id: str | None = None


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8900  # 0 = pick a free port
    org_id: str = DEFAULT_ORG_ID
    daily_api_limit: int = 100_000
    client_id: str = "hub-client"
    client_secret: str = "hub-secret"
    username: str = "hub@example.com"
    password: str = "password"
    security_token: str = "token"
    jwt_public_key_pem: str | None = None
    outbound_messages: list[OutboundMessageConfig] = field(default_factory=list)
    outbound_retry_initial_seconds: float = 1.0
    outbound_retry_max_seconds: float = 60.0
    cdc_sink: Callable[[dict[str, Any]], None] | None = None
    cdc_objects: list[str] | None = None
    state_file: str | None = None
    random_seed: int = 0
    # --- additions (all optional) ---
    user_id: str = DEFAULT_INTEGRATION_USER_ID  # the integration user every token runs as
    admin_user_id: str = DEFAULT_ADMIN_USER_ID  # "someone in the UI": seeds and user_* changes
    latest_api_version: str = "64.0"
    min_api_version: str = "31.0"
    # Salesforce clamps Sforce-Query-Options batchSize to 200..2000; tests may lower the floor.
    min_query_batch_size: int = 200
    default_query_batch_size: int = 2000
    query_cursor_ttl_seconds: float = 15 * 60
    session_ttl_seconds: float | None = None  # None = sessions live until expired via controls
    jwt_audiences: list[str] = field(
        default_factory=lambda: ["https://login.salesforce.com", "https://test.salesforce.com"]
    )
    outbound_timeout_seconds: float = 60.0
    outbound_max_age_seconds: float = 24 * 3600
    outbound_poll_seconds: float = 0.02
    outbound_duplicate_rate: float = 0.0  # chance an acked batch is delivered again (at least once)
    event_relay_channel_id: str = DEFAULT_RELAY_CHANNEL_ID
    aws_account_id: str = "123456789012"
    aws_region: str = "us-east-1"
    # Whether changeOrigin carries `client=` for sObject Collections / Composite writes. Salesforce documents
    # Sforce-Call-Options for rows, rows by external id, query and Bulk, not for Collections or Composite:
    # so by default those writes are untagged; True tests the other possibility.
    cdc_client_in_collections: bool = False
    # Change event bodies. False: only what the event carries for the operation (UPDATE: changed fields, those
    # set to null as null; CREATE/UNDELETE: non-empty fields; DELETE: none), as documented for JSON change
    # events. True: every field, null when unchanged or empty, as documented for Pub/Sub API (Avro) clients.
    cdc_include_unchanged_fields: bool = False
    # UPDATE events carry a unified diff instead of a large text value (>= 1,000 characters) when Salesforce's
    # conditions allow it, listed in diffFields. False sends whole values (a real org "might" send either).
    cdc_diff_large_text: bool = True
    # Changes made "in the UI" (user_change): Lightning Experience's changeOrigin.
    ui_change_origin: str = "com/salesforce/api/soap/{version};client=SfdcInternalAPI/"
    # Bulk API 2.0 jobs pass UploadComplete -> InProgress -> JobComplete over this many seconds of the org's
    # clock (advance_clock() completes them at once; 0 = complete at once). Salesforce never completes instantly.
    bulk_processing_delay_seconds: float = 0.3
    picklist_overrides: dict[str, list[PicklistValue]] = field(default_factory=dict)

    # --- REST, Collections, Bulk 2.0, limits and query fidelity (see docs/salesforce-emulator.md) ---
    # Bulk 2.0 results CSVs come in an order unrelated to the input ("not guaranteed to match"): shuffled,
    # seeded by random_seed and the job id. True keeps input order.
    bulk_results_in_order: bool = False
    # A real org keeps answering past its daily allocation for a while (api-usage=110018/100000): calls are
    # refused with REQUEST_LIMIT_EXCEEDED only once usage reaches max * (1 + this). 0 = refuse at max.
    api_overshoot_ratio: float = 0.1
    # Usage is counted over a rolling window of the org's clock; calls older than this no longer count.
    api_usage_window_seconds: float = 24 * 3600
    # Query pages are "up to" the batch size: each page holds between half and all of it (seeded).
    # False = exactly the batch size (except the last page).
    query_page_size_varies: bool = True
    # One row of a Collections create/update/upsert naming an unknown field: "request" answers the whole
    # request 400 INVALID_FIELD (the stricter reading; Salesforce's docs do not say), "row" fails that row alone.
    collections_unknown_field: str = "request"
    # External id fields without the Unique attribute, "Object.Field__c" (a custom text field is added):
    # several records may share a value, and an upsert matching more than one answers 300.
    non_unique_external_ids: list[str] = field(default_factory=list)


# Fields that /__emulator/config (RunningEmulator.configure) may change while the org runs; reset() restores them.
RUNTIME_OPTIONS = (
    "bulk_processing_delay_seconds",
    "bulk_results_in_order",
    "api_overshoot_ratio",
    "api_usage_window_seconds",
    "query_page_size_varies",
    "collections_unknown_field",
)
