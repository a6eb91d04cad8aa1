"""OAuth 2.0 token endpoint (client credentials, JWT bearer, username-password) and API sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .config import EmulatorConfig

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Session:
    token: str
    user_id: str
    issued_at: float
    expired: bool = False


class Sessions:
    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def issue(self, user_id: str) -> Session:
        token = f"{self._config.org_id[:15]}!{secrets.token_urlsafe(72)}"
        session = Session(token=token, user_id=user_id, issued_at=time.time())
        with self._lock:
            self._sessions[token] = session
        return session

    def lookup(self, token: str) -> Session | None:
        with self._lock:
            session = self._sessions.get(token)
        if session is None or session.expired:
            return None
        ttl = self._config.session_ttl_seconds
        if ttl is not None and time.time() - session.issued_at > ttl:
            return None
        return session

    def expire(self, token: str | None = None) -> int:
        with self._lock:
            targets = (
                [self._sessions[token]] if token in self._sessions else [] if token else list(self._sessions.values())
            )
            for session in targets:
                session.expired = True
            return len(targets)

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._sessions.pop(token, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _check_jwt(config: EmulatorConfig, assertion: str, base_url: str) -> None:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise OAuthError("invalid_grant", "invalid assertion")
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (ValueError, json.JSONDecodeError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if not isinstance(claims, dict) or not isinstance(header, dict):
        raise OAuthError("invalid_grant", "invalid assertion")
    if config.jwt_public_key_pem:
        key = serialization.load_pem_public_key(config.jwt_public_key_pem.encode())
        if header.get("alg") != "RS256" or not isinstance(key, rsa.RSAPublicKey):
            raise OAuthError("invalid_grant", "invalid assertion")
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise OAuthError("invalid_grant", "invalid assertion") from None
    if claims.get("iss") != config.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    audiences = [*config.jwt_audiences, base_url]
    aud = claims.get("aud")
    aud_list = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a.rstrip("/") in audiences for a in aud_list):
        raise OAuthError("invalid_grant", "audience is invalid")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp < time.time():
        raise OAuthError("invalid_grant", "invalid assertion")
    if claims.get("sub") != config.username:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")


def _client(form: dict[str, str], basic: tuple[str, str] | None) -> tuple[str | None, str | None]:
    if basic is not None:
        return basic
    return form.get("client_id"), form.get("client_secret")


def token(
    config: EmulatorConfig,
    sessions: Sessions,
    form: dict[str, str],
    basic: tuple[str, str] | None,
    base_url: str,
) -> dict[str, Any]:
    """The token answer, or OAuthError with Salesforce's error/error_description."""
    grant = form.get("grant_type")
    if grant == "client_credentials":
        client_id, secret = _client(form, basic)
        if client_id != config.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if secret != config.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
    elif grant == JWT_GRANT:
        _check_jwt(config, form.get("assertion", ""), base_url)
    elif grant == "password":
        client_id, secret = _client(form, basic)
        if client_id != config.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if secret is not None and secret != config.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
        expected = config.password + config.security_token
        if form.get("username") != config.username or form.get("password") not in (expected,):
            raise OAuthError("invalid_grant", "authentication failure")
    elif not grant:
        raise OAuthError("invalid_request", "grant type not supported")
    else:
        raise OAuthError("unsupported_grant_type", "grant type not supported")
    session = sessions.issue(config.user_id)
    issued_at = str(int(session.issued_at * 1000))
    identity = f"{base_url}/id/{config.org_id}/{config.user_id}"
    signature = base64.b64encode(
        hmac.new(config.client_secret.encode(), (identity + issued_at).encode(), hashlib.sha256).digest()
    ).decode()
    return {
        "access_token": session.token,
        "signature": signature,
        "scope": "api",
        "instance_url": base_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }
