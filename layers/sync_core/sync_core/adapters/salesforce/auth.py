"""OAuth 2.0 for server-to-server use: JWT bearer, client credentials, username-password (+ security token).

The hub asks `<login_url>/services/oauth2/token` itself: simple-salesforce's own login can only build
`https://{domain}.salesforce.com` URLs, which rules out My Domain token URLs for some flows and any test server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Self

import jwt
import requests
from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from sync_core.domain.salesforce import SalesforceFailure, failures_from_body
from sync_core.errors import PermanentError, RetryableError
from sync_core.observability import logger

TOKEN_PATH = "/services/oauth2/token"
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts at most 3 minutes between now and exp
SECRET_MAX_AGE_SECONDS = 300  # rotated credentials are picked up within five minutes


class AuthFlow(StrEnum):
    JWT_BEARER = "jwt_bearer"
    CLIENT_CREDENTIALS = "client_credentials"
    PASSWORD = "password"


class SalesforceCredentials(BaseModel):
    """The JSON in the Salesforce secret (Settings.salesforce_secret_arn)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    auth_flow: AuthFlow
    login_url: str = Field(description="https://login.salesforce.com, https://test.salesforce.com or My Domain")
    client_id: str = Field(min_length=1, description="The connected app's consumer key")
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    private_key_pem: SecretStr | None = Field(default=None, description="RS256 key whose certificate the app holds")
    audience: str | None = Field(default=None, description="JWT aud; defaults to login_url")
    api_version: str = Field(default="60.0", pattern=r"^\d+\.\d$")

    @field_validator("login_url")
    @classmethod
    def _https_origin(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("login_url must be an https URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _has_what_the_flow_needs(self) -> Self:
        needed = {
            AuthFlow.JWT_BEARER: ("username", "private_key_pem"),
            AuthFlow.CLIENT_CREDENTIALS: ("client_secret",),
            AuthFlow.PASSWORD: ("client_secret", "username", "password"),
        }[self.auth_flow]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"auth_flow {self.auth_flow.value} needs {', '.join(missing)}")
        return self

    @property
    def token_url(self) -> str:
        return self.login_url + TOKEN_PATH


class AccessToken(BaseModel):
    """The token endpoint's answer (no refresh token, no expiry: a new one is fetched when the session dies)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: SecretStr
    instance_url: str
    id: str | None = None
    token_type: str = "Bearer"
    issued_at: str | None = None


def load_credentials(
    secret_arn: str, *, max_age: int = SECRET_MAX_AGE_SECONDS, force_fetch: bool = False
) -> SalesforceCredentials:
    """Read and validate the secret (cached by Powertools for max_age seconds; force_fetch reads it anew)."""
    if not secret_arn:
        raise PermanentError("SALESFORCE_SECRET_ARN is not set", code="CONFIGURATION")
    value = parameters.get_secret(secret_arn, transform="json", max_age=max_age, force_fetch=force_fetch)
    try:
        return SalesforceCredentials.model_validate(value)
    except ValidationError as error:
        # Never echo the input: it holds passwords and keys.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_input=False))
        raise PermanentError(f"Salesforce secret is invalid: {problems}", code="CONFIGURATION") from None


def token_request_body(credentials: SalesforceCredentials, *, now: float | None = None) -> dict[str, str]:
    """The form body of the token request for the credentials' flow."""
    match credentials.auth_flow:
        case AuthFlow.JWT_BEARER:
            issued = int(now if now is not None else time.time())
            claims = {
                "iss": credentials.client_id,
                "sub": credentials.username,
                "aud": credentials.audience or credentials.login_url,
                "exp": issued + JWT_LIFETIME_SECONDS,
            }
            key = credentials.private_key_pem.get_secret_value() if credentials.private_key_pem else ""
            assertion = jwt.encode(claims, key, algorithm="RS256")
            return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        case AuthFlow.CLIENT_CREDENTIALS:
            return {
                "grant_type": "client_credentials",
                "client_id": credentials.client_id,
                "client_secret": _secret(credentials.client_secret),
            }
        case AuthFlow.PASSWORD:
            return {
                "grant_type": "password",
                "client_id": credentials.client_id,
                "client_secret": _secret(credentials.client_secret),
                "username": credentials.username or "",
                # Outside trusted IP ranges Salesforce wants the security token appended to the password.
                "password": _secret(credentials.password) + _secret(credentials.security_token),
            }


def request_token(
    credentials: SalesforceCredentials, http: requests.Session, *, timeout: tuple[float, float]
) -> AccessToken:
    try:
        response = http.post(credentials.token_url, data=token_request_body(credentials), timeout=timeout)
    except requests.Timeout as error:
        raise RetryableError("Salesforce token request timed out", code="TIMEOUT") from error
    except requests.RequestException as error:  # refused, reset, TLS or a broken answer
        message = f"Salesforce token endpoint unreachable: {type(error).__name__}: {error}"
        raise RetryableError(message, code="CONNECTION_ERROR") from error
    if response.status_code != 200:
        raise _token_failure(response).to_error()
    try:
        return AccessToken.model_validate(response.json())
    except (ValueError, ValidationError) as error:
        raise RetryableError("Salesforce token answer was not a token", code="INVALID_TOKEN_RESPONSE") from error


class TokenSource:
    """The current access token for one set of credentials, shared by every client in the container."""

    def __init__(
        self,
        credentials: Callable[[], SalesforceCredentials],
        http: requests.Session,
        *,
        timeout: tuple[float, float],
        fresh_credentials: Callable[[], SalesforceCredentials] | None = None,
    ) -> None:
        self._credentials = credentials
        self._fresh_credentials = fresh_credentials
        self._http = http
        self._timeout = timeout
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def credentials(self) -> SalesforceCredentials:
        return self._credentials()

    def current(self) -> AccessToken:
        with self._lock:
            if self._token is None:
                self._token = self._request()
            return self._token

    def renew(self, stale: AccessToken) -> AccessToken:
        """A new token, unless another client already replaced `stale` (then that one)."""
        with self._lock:
            if self._token is None or self._token == stale:
                self._token = self._request()
            return self._token

    def _request(self) -> AccessToken:
        credentials = self._credentials()
        try:
            return request_token(credentials, self._http, timeout=self._timeout)
        except PermanentError:
            # Refused: the cached secret may predate a rotation. Read it anew, and try once more only if it changed.
            if self._fresh_credentials is None:
                raise
            fresh = self._fresh_credentials()
            if fresh == credentials:
                raise
            logger.info("Salesforce refused the cached credentials; using the secret's new version")
            return request_token(fresh, self._http, timeout=self._timeout)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value else ""


def _token_failure(response: requests.Response) -> SalesforceFailure:
    body: Any
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return failures_from_body(response.status_code, body)[0]
