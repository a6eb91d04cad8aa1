"""Settings: the only reader of os.environ, validated once per process.

Each function declares the variables it cannot run without (`require_settings` at its first call); a missing
one is a ConfigurationError naming it, instead of an AWS error about an empty table name on the first write.
Variables with a sensible default (region, budgets, thresholds) are optional; resource names are not and have
no default.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache

from pydantic import BaseModel, Field, ValidationError, field_validator


class ConfigurationError(RuntimeError):
    """The function's environment lacks a setting it needs, or has one that is malformed."""


class Settings(BaseModel):
    """Everything a function may read from its environment; names match template.yaml's variables."""

    stage: str = Field(default="dev", alias="STAGE")
    # Resources: required by the functions that use them (no default: absent is None, never "").
    records_table: str | None = Field(default=None, alias="RECORDS_TABLE")
    sync_state_table: str | None = Field(default=None, alias="SYNC_STATE_TABLE")
    sync_config_table: str | None = Field(default=None, alias="SYNC_CONFIG_TABLE")
    error_log_table: str | None = Field(default=None, alias="ERROR_LOG_TABLE")
    idempotency_table: str | None = Field(default=None, alias="IDEMPOTENCY_TABLE")
    sync_queue_url: str | None = Field(default=None, alias="SYNC_QUEUE_URL")
    export_queue_url: str | None = Field(default=None, alias="EXPORT_QUEUE_URL")
    # The work queues' dead-letter queues (sync administration replays them).
    sync_dead_letter_queue_url: str | None = Field(default=None, alias="SYNC_DEAD_LETTER_QUEUE_URL")
    export_dead_letter_queue_url: str | None = Field(default=None, alias="EXPORT_DEAD_LETTER_QUEUE_URL")
    # A queue's maxReceiveCount (template.yaml): a worker failing a message's last receive marks it dead.
    max_receive_count: int = Field(default=5, ge=1, alias="MAX_RECEIVE_COUNT")
    # How long a worker keeps an entity's sync configuration before reading it again (services.sync_config).
    sync_config_cache_seconds: int = Field(default=60, ge=0, le=3600, alias="SYNC_CONFIG_CACHE_SECONDS")
    # Salesforce connection (used only by functions that call Salesforce).
    salesforce_secret_arn: str | None = Field(default=None, alias="SALESFORCE_SECRET_ARN")
    allowed_org_ids: tuple[str, ...] = Field(default=(), alias="ALLOWED_ORG_IDS")
    # The outbound-message webhook's path token (Secrets Manager; template.yaml's WebhookTokenSecret).
    webhook_token_secret_arn: str | None = Field(default=None, alias="WEBHOOK_TOKEN_SECRET_ARN")
    hub_client_id: str = Field(default="SyncHub", alias="HUB_CLIENT_ID")
    salesforce_ca_bundle: str | None = Field(default=None, alias="SALESFORCE_CA_BUNDLE")
    api_budget_share: float = Field(default=0.5, gt=0, le=1, alias="SALESFORCE_API_BUDGET_SHARE")
    api_calls_per_run: int = Field(default=5000, gt=0, alias="SALESFORCE_API_CALLS_PER_RUN")
    bulk_threshold: int = Field(default=2000, gt=0, alias="SALESFORCE_BULK_THRESHOLD")
    # Scheduled sync (services.scheduled_sync): the pull's overlap window, the rows above which a pull is a Bulk
    # API 2.0 query, the changes one run queues per entity, how long a local change waits for the real-time path
    # before a scheduled run pushes it, and how often a record in Error from an export is retried.
    pull_overlap_seconds: int = Field(default=120, ge=0, alias="PULL_OVERLAP_SECONDS")
    pull_bulk_threshold: int = Field(default=10_000, gt=0, alias="PULL_BULK_THRESHOLD")
    pull_max_changes_per_run: int = Field(default=50_000, gt=0, alias="PULL_MAX_CHANGES_PER_RUN")
    push_grace_seconds: int = Field(default=300, ge=0, alias="PUSH_GRACE_SECONDS")
    error_retry_minutes: int = Field(default=60, ge=0, alias="ERROR_RETRY_MINUTES")
    # IAM callers' roles: JSON from principal ARN patterns to role lists (sync_core.http.roles).
    iam_role_map: str | None = Field(default=None, alias="HUB_IAM_ROLE_MAP")
    # Local stack only: moto server instead of AWS (boto3 also reads AWS_ENDPOINT_URL itself).
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")

    model_config = {"populate_by_name": True, "frozen": True}

    @field_validator("allowed_org_ids", mode="before")
    @classmethod
    def _split_org_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator(
        "records_table",
        "sync_state_table",
        "sync_config_table",
        "error_log_table",
        "idempotency_table",
        "sync_queue_url",
        "export_queue_url",
        "sync_dead_letter_queue_url",
        "export_dead_letter_queue_url",
        "salesforce_secret_arn",
        "webhook_token_secret_arn",
        "salesforce_ca_bundle",
        "aws_endpoint_url",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # An empty variable is as good as a missing one (a template parameter left blank).
        return value.strip() or None if isinstance(value, str) else value

    def require(self, variable: str) -> str:
        """The value of a setting the caller cannot do without, by its variable name (e.g. RECORDS_TABLE)."""
        value = getattr(self, _field_of(variable))
        if not value:
            raise ConfigurationError(f"{variable} is not set: this function needs it (see template.yaml)")
        return str(value)


VARIABLES: frozenset[str] = frozenset(field.alias for field in Settings.model_fields.values() if field.alias)


def _field_of(variable: str) -> str:
    for name, field in Settings.model_fields.items():
        if field.alias == variable:
            return name
    raise ConfigurationError(f"{variable} is not a setting the hub knows; known: {', '.join(sorted(VARIABLES))}")


@cache
def get_settings() -> Settings:
    """Settings from the environment, read once per container (tests call get_settings.cache_clear())."""
    try:
        return Settings.model_validate({key: value for key, value in os.environ.items() if key in VARIABLES})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors())
        raise ConfigurationError(f"malformed settings: {problems}") from exc


def require_settings(variables: Iterable[str]) -> Settings:
    """The settings, once every variable a function declared it needs is set; else one error naming them all."""
    settings = get_settings()
    missing = [variable for variable in variables if not getattr(settings, _field_of(variable))]
    if missing:
        raise ConfigurationError(f"missing settings: {', '.join(missing)} must be set in the function's environment")
    return settings
