"""The demo token issuer: OAuth2 client credentials for configured clients, for demos and tests.

It signs RS256 tokens with a key generated at start (never written anywhere), or
the one in `key_file` (replicas share it), and
publishes that key's public half as a JWKS. f7tproxy then validates these tokens like
any IdP's: through `TokenValidator` with the published JWKS, with no shortcut.

The issuer URL (`iss`, discovery) is the server's public URL, or the first bound URL
when the server picks its own port; it is known only once the server has bound.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Mapping
from typing import Any

import attrs
from joserfc import jwt
from joserfc.jwk import KeyParameters, RSAKey

from ..config import DemoClient, DemoIssuerConfig
from ..errors import ServiceUnavailable

ALGORITHM = "RS256"
TOKEN_PATH = "/auth/token"
JWKS_PATH = "/auth/jwks"
DISCOVERY_PATH = "/.well-known/openid-configuration"


@attrs.frozen
class IssuedToken:
    """An access token and its lifetime in whole seconds."""

    access_token: str
    expires_in: int


class DemoIssuer:
    """Issues tokens to the configured clients, signed with a key made at start."""

    def __init__(self, config: DemoIssuerConfig, *, public_url: str | None = None) -> None:
        self.config = config
        parameters: KeyParameters = {"alg": ALGORITHM, "use": "sig"}
        if config.key_file is not None:
            self._key = RSAKey.import_key(config.key_file.read_bytes(), parameters)
            self._key.ensure_kid()
        else:
            self._key = RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)
        self._clients = {c.client_id: c for c in config.clients}
        self._url = public_url.rstrip("/") if public_url else None

    @property
    def url(self) -> str:
        """The issuer URL.

        Raises:
            ServiceUnavailable: the server has not bound its port yet.
        """
        if self._url is None:
            raise ServiceUnavailable("The token issuer is starting", retry_after=1)
        return self._url

    @property
    def url_or_none(self) -> str | None:
        return self._url

    def bound(self, urls: list[str]) -> None:
        """Learn the issuer URL from the server's bound URLs, unless one was configured."""
        if self._url is None:
            self._url = next((u for u in urls if u.startswith("http")), urls[0]).rstrip("/")

    def authenticate(self, client_id: str, secret: str) -> DemoClient | None:
        """The client with this id and secret, or None (compared in constant time)."""
        client = self._clients.get(client_id)
        # Compare even for unknown ids, so that timing does not tell which ids exist.
        expected = client.secret.reveal() if client is not None else "\0" * max(1, len(secret))
        if hmac.compare_digest(expected.encode(), secret.encode()) and client is not None:
            return client
        return None

    def issue(self, client: DemoClient, *, now: float | None = None) -> IssuedToken:
        """A signed access token for `client`."""
        issued = int(time.time() if now is None else now)
        ttl = int(self.config.token_ttl)
        claims = {
            "iss": self.url,
            "sub": client.client_id,
            "aud": self.config.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "jti": uuid.uuid4().hex,
            "client_id": client.client_id,
            "preferred_username": client.username,
        }
        header = {"alg": ALGORITHM, "kid": self._key.kid, "typ": "at+jwt"}
        return IssuedToken(access_token=jwt.encode(header, claims, self._key, algorithms=[ALGORITHM]), expires_in=ttl)

    def jwks(self) -> Mapping[str, Any]:
        """The public JWKS."""
        return {"keys": [self._key.as_dict(private=False)]}

    def discovery(self) -> Mapping[str, Any]:
        """The OIDC discovery document (also valid as OAuth 2.0 server metadata, RFC 8414)."""
        url = self.url
        return {
            "issuer": url,
            "token_endpoint": url + TOKEN_PATH,
            "jwks_uri": url + JWKS_PATH,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
        }
