"""Against a real, independent IdP (npm oidc-provider): discovery, rotation, outages.

Each test runs a real `f7tproxy serve` subprocess; tokens come from the IdP.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import httpx
from firecrest import ClientCredentialsAuth
from firecrest.v2 import Firecrest

from ..server_process import ServerProcess
from . import tokens
from .conftest import AUDIENCE, Idp

WriteConfig = Callable[..., pathlib.Path]


def _systems(server: ServerProcess, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/status/systems", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_pyfirecrest_with_tokens_from_the_idp_found_by_discovery(idp: Idp, write_config: WriteConfig) -> None:
    config = write_config({"issuer": idp.issuer, "audiences": [AUDIENCE]})
    with ServerProcess(config) as server:
        post = ClientCredentialsAuth("fireuser-client", "fireuser-secret", f"{idp.issuer}/token")
        basic = ClientCredentialsAuth(
            "firesrv-client", "firesrv-secret", f"{idp.issuer}/token", client_auth_method="client_secret_basic"
        )
        for auth in (post, basic):
            client = Firecrest(firecrest_url=server.url, authorization=auth)
            try:
                assert [s["name"] for s in client.systems()] == ["cluster-slurm"]
            finally:
                client.close_session()
        # FirecREST's OAuth2 scheme in the document, with the token URL discovery named
        document = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
        flow = document["components"]["securitySchemes"]["APIAuthDependency"]["flows"]["clientCredentials"]
        assert flow["tokenUrl"] == f"{idp.issuer}/token"


def test_configured_jwks_url_and_audience_mismatch(idp: Idp, write_config: WriteConfig) -> None:
    good = write_config({"jwks_url": f"{idp.issuer}/jwks", "issuer": idp.issuer, "audiences": [AUDIENCE]})
    with ServerProcess(good) as server:
        assert _systems(server, idp.token()).status_code == 200
    other = write_config({"issuer": idp.issuer, "audiences": ["another-api"]}, "other.yaml")
    with ServerProcess(other) as server:
        response = _systems(server, idp.token())
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "claims: invalid_claim: Invalid claim: 'aud'" in "".join(server.output)


def test_rotated_key_is_picked_up_without_restart(idp: Idp, write_config: WriteConfig) -> None:
    config = write_config({"issuer": idp.issuer, "audiences": [AUDIENCE], "jwks_refetch_interval": 0})
    with ServerProcess(config) as server:
        before = idp.token()
        assert _systems(server, before).status_code == 200
        new_kid = idp.rotate()
        after = idp.token()
        assert _systems(server, after).status_code == 200
        # The IdP withdrew the old key: once the new set is loaded, old tokens are refused.
        assert _systems(server, before).status_code == 401
    assert new_kid in "".join(server.output)


def test_cached_keys_serve_while_the_idp_is_down(idp: Idp, write_config: WriteConfig) -> None:
    config = write_config({"issuer": idp.issuer, "audiences": [AUDIENCE], "jwks_refetch_interval": 0})
    with ServerProcess(config) as server:
        token = idp.token()
        assert _systems(server, token).status_code == 200
        idp.stop()
        assert _systems(server, token).status_code == 200
        bogus = tokens.sign(tokens.claims(iss=idp.issuer), key=tokens.OTHER_KEY, kid="unknown")
        assert _systems(server, bogus).status_code == 401
        assert _systems(server, token).status_code == 200
    assert "keeping the cached keys" in "".join(server.output)


def test_idp_down_at_start_serves_liveness_and_answers_503(write_config: WriteConfig) -> None:
    config = write_config({"issuer": "http://127.0.0.1:9", "audiences": [AUDIENCE], "jwks_timeout": 2})
    with ServerProcess(config) as server:
        assert httpx.get(f"{server.url}/status/liveness/", timeout=10).status_code == 200
        response = _systems(server, tokens.sign())
        assert response.status_code == 503
        assert "Retry-After" in response.headers
    assert "NO KEYS YET" in "".join(server.output)
