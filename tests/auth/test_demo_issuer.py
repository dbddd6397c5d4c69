"""The demo token issuer, end to end: pyfirecrest and curl get tokens and call the API."""

from __future__ import annotations

import base64
import json
import pathlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from firecrest import ClientCredentialsAuth, ClientsCredentialsException
from firecrest.v2 import Firecrest

from ..server_process import ServerProcess
from . import tokens
from .inprocess import in_process, make_config

WriteConfig = Callable[..., pathlib.Path]
DEMO = {
    "audiences": ["f7tproxy"],
    "demo_issuer": {
        "enabled": True,
        "clients": [
            {"client_id": "fireuser-client", "secret": "fireuser-secret", "username": "fireuser"},
            {"client_id": "firesrv-client", "secret": "firesrv-secret", "username": "firesrv"},
        ],
    },
}


@pytest.fixture
def server(write_config: WriteConfig) -> Iterator[ServerProcess]:
    with ServerProcess(write_config(DEMO)) as running:
        yield running


def _systems(client: Firecrest) -> list[dict[str, Any]]:
    try:
        systems: list[dict[str, Any]] = client.systems()
        return systems
    finally:
        client.close_session()


@pytest.mark.parametrize("method", ["client_secret_post", "client_secret_basic"])
def test_pyfirecrest_gets_a_token_and_lists_systems(server: ServerProcess, method: str) -> None:
    discovery = httpx.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    auth = ClientCredentialsAuth(
        "fireuser-client", "fireuser-secret", discovery["token_endpoint"], client_auth_method=method
    )
    systems = _systems(Firecrest(firecrest_url=server.url, authorization=auth))
    assert [s["name"] for s in systems] == ["cluster-slurm"]


def test_wrong_secret_is_refused(server: ServerProcess) -> None:
    auth = ClientCredentialsAuth("fireuser-client", "wrong", f"{server.url}/auth/token")
    with pytest.raises(ClientsCredentialsException):
        _systems(Firecrest(firecrest_url=server.url, authorization=auth))
    for data, auth_pair, status, error in [
        ({"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}, None, 401,
         "invalid_client"),
        ({"grant_type": "client_credentials"}, ("fireuser-client", "nope"), 401, "invalid_client"),
        ({"grant_type": "password", "client_id": "fireuser-client", "client_secret": "fireuser-secret"}, None,
         400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
    ]:  # fmt: skip
        response = httpx.post(f"{server.url}/auth/token", data=data, auth=auth_pair, timeout=10)
        assert (response.status_code, response.json()["error"]) == (status, error)
        assert "access_token" not in response.json()


def test_discovery_and_jwks_name_the_bound_url(server: ServerProcess) -> None:
    discovery = httpx.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == server.url
    assert discovery["token_endpoint"] == f"{server.url}/auth/token"
    assert discovery["jwks_uri"] == f"{server.url}/auth/jwks"
    assert set(discovery["token_endpoint_auth_methods_supported"]) == {"client_secret_post", "client_secret_basic"}
    [key] = httpx.get(discovery["jwks_uri"], timeout=10).json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # never the private half


def test_tokens_carry_the_configured_claims(server: ServerProcess) -> None:
    response = httpx.post(
        f"{server.url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": "firesrv-client", "client_secret": "firesrv-secret"},
        timeout=10,
    )
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert response.headers["Cache-Control"] == "no-store"
    payload = body["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == server.url and claims["aud"] == "f7tproxy"
    assert claims["preferred_username"] == "firesrv"
    assert claims["exp"] - claims["iat"] == 300


def test_demo_tokens_are_validated_like_any_idp_token(server: ServerProcess) -> None:
    token = httpx.post(
        f"{server.url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": "fireuser-client", "client_secret": "fireuser-secret"},
        timeout=10,
    ).json()["access_token"]
    head, _, rest = token.partition(".")
    _, _, signature = rest.partition(".")
    kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
    forged = [
        f"{head}.{tokens.b64(json.dumps(tokens.claims(iss=server.url, preferred_username='root')))}.{signature}",
        tokens.sign(tokens.claims(iss=server.url), key=tokens.OTHER_KEY, kid=kid),
    ]
    for bad in forged:
        response = httpx.get(f"{server.url}/status/systems", headers={"Authorization": f"Bearer {bad}"}, timeout=10)
        assert response.status_code == 401


def test_start_warns_loudly(server: ServerProcess) -> None:
    assert "DEMO TOKEN ISSUER ENABLED" in "".join(server.output)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_line_gets_a_token(server: ServerProcess) -> None:
    # The README's line, with the test server's URL.
    done = subprocess.run(
        ["curl", "-s", "-u", "fireuser-client:fireuser-secret", "-d", "grant_type=client_credentials",
         f"{server.url}/auth/token"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    token = json.loads(done.stdout)["access_token"]
    response = httpx.get(f"{server.url}/status/systems", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200


async def test_not_served_unless_enabled() -> None:
    config = make_config({"jwks_url": "http://127.0.0.1:9/unused"})
    async with in_process(config) as app:
        assert app.auth.demo_issuer is None
        for path in ("/auth/token", "/auth/jwks", "/.well-known/openid-configuration"):
            assert (await app.client.get(path)).status_code == 404
        assert (await app.client.post("/auth/token", form={"grant_type": "client_credentials"})).status_code == 404
