"""Settings: the only reader of os.environ, validated once per process."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field, field_validator


class Settings(BaseModel):
    """Everything a function needs from its environment; names match template.yaml's variables."""

    stage: str = Field(default="dev", alias="STAGE")
    records_table: str = Field(default="", alias="RECORDS_TABLE")
    sync_state_table: str = Field(default="", alias="SYNC_STATE_TABLE")
    sync_config_table: str = Field(default="", alias="SYNC_CONFIG_TABLE")
    error_log_table: str = Field(default="", alias="ERROR_LOG_TABLE")
    idempotency_table: str = Field(default="", alias="IDEMPOTENCY_TABLE")
    sync_queue_url: str = Field(default="", alias="SYNC_QUEUE_URL")
    # Salesforce connection (used only by functions that call Salesforce).
    salesforce_secret_arn: str = Field(default="", alias="SALESFORCE_SECRET_ARN")
    allowed_org_ids: tuple[str, ...] = Field(default=(), alias="ALLOWED_ORG_IDS")
    hub_client_id: str = Field(default="SyncHub", alias="HUB_CLIENT_ID")
    salesforce_ca_bundle: str | None = Field(default=None, alias="SALESFORCE_CA_BUNDLE")
    api_budget_share: float = Field(default=0.5, gt=0, le=1, alias="SALESFORCE_API_BUDGET_SHARE")
    api_calls_per_run: int = Field(default=5000, gt=0, alias="SALESFORCE_API_CALLS_PER_RUN")
    bulk_threshold: int = Field(default=2000, gt=0, alias="SALESFORCE_BULK_THRESHOLD")
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

    @field_validator("salesforce_ca_bundle", "aws_endpoint_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None


@cache
def get_settings() -> Settings:
    """Settings from the environment, read once per container (tests call get_settings.cache_clear())."""
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    return Settings.model_validate({key: value for key, value in os.environ.items() if key in known})
