"""HTTP face of the demo token issuer: token endpoint, JWKS and OIDC discovery.

Registered only when `auth.demo_issuer.enabled`. Errors follow OAuth 2.0 (RFC 6749
section 5.2), not FirecREST's error body: these are an IdP's endpoints.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from typing import Any

from quart import Blueprint, Response, jsonify, request

from ..auth import DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH, DemoIssuer
from ._auth import public
from ._context import runtime

demo_issuer = Blueprint("demo_issuer", __name__)


def _issuer() -> DemoIssuer:
    issuer = runtime().auth.demo_issuer
    assert issuer is not None, "the demo issuer blueprint is registered only when enabled"
    return issuer


def _oauth_error(status: int, error: str, description: str, *, basic: bool = False) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if basic:
        response.headers["WWW-Authenticate"] = 'Basic realm="f7tproxy demo issuer"'
    return response


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return client_id, secret


@demo_issuer.post(TOKEN_PATH)
@public
async def token() -> Response:
    """OAuth 2.0 client-credentials grant (client_secret_post or client_secret_basic)."""
    form = await request.form
    header = request.headers.get("Authorization")
    basic = header is not None
    if header is not None:
        credentials = _basic_credentials(header)
        if credentials is None or "client_secret" in form:
            return _oauth_error(401, "invalid_client", "client authentication failed", basic=True)
        client_id, secret = credentials
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is supported")
    issuer = _issuer()
    client = issuer.authenticate(client_id, secret) if client_id and secret else None
    if client is None and basic:
        # RFC 6749 2.3.1 form-urlencodes both parts before Basic encoding; most
        # clients (requests, curl -u) do not, so both spellings are accepted.
        unquote = urllib.parse.unquote_plus
        client = issuer.authenticate(unquote(client_id), unquote(secret))
    if client is None:
        return _oauth_error(401, "invalid_client", "client authentication failed", basic=basic)
    issued = issuer.issue(client)
    response = jsonify(
        {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in}
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@demo_issuer.get(JWKS_PATH)
@public
async def jwks() -> dict[str, Any]:
    """The issuer's public signing keys."""
    return dict(_issuer().jwks())


@demo_issuer.get(DISCOVERY_PATH)
@public
async def discovery() -> dict[str, Any]:
    """OIDC discovery: names the token endpoint and the JWKS."""
    return dict(_issuer().discovery())
