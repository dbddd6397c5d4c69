"""Bearer token validation: a forged-token corpus gets 401 and never reaches a handler."""

from __future__ import annotations

import logging

import pytest

from f7tproxy.auth import LocalKeySource
from f7tproxy.observability import Metrics

from . import tokens
from .inprocess import in_process, make_config

AUTH = {"jwks_url": "http://127.0.0.1:9/unused", "issuer": tokens.ISSUER, "audiences": [tokens.AUDIENCE]}
CORPUS = tokens.forged_corpus()
CLIENT_MESSAGES = {"Not authenticated", "Access token is invalid.", "Access token expired"}


def _source() -> LocalKeySource:
    return LocalKeySource(lambda: tokens.jwks(), "test keys")


async def test_valid_token_reaches_the_handler_as_its_user() -> None:
    async with in_process(make_config(AUTH), key_source=_source()) as app:
        response = await app.client.get(
            "/compute/cluster-a/probe", headers={"Authorization": f"Bearer {tokens.sign()}"}
        )
        assert response.status_code == 200, await response.get_json()
        assert await response.get_json() == {"user": "alice"}
        assert app.reached == [("alice", "cluster-a")]


@pytest.mark.parametrize("name", list(CORPUS))
async def test_forged_token_gets_401_before_any_handler(name: str) -> None:
    header = CORPUS[name]
    async with in_process(make_config(AUTH), key_source=_source()) as app:
        headers = {} if header is None else {"Authorization": header}
        response = await app.client.get("/compute/cluster-a/probe", headers=headers)
        body = await response.get_json()
        assert response.status_code == 401, body
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert set(body) == {"errorType", "message", "data", "user", "causedBy"}
        # The reason goes to the log, not to the client.
        assert body["message"] in CLIENT_MESSAGES
        assert body["data"] is None
        assert app.reached == []


async def test_expired_token_is_told_apart() -> None:
    async with in_process(make_config(AUTH), key_source=_source()) as app:
        response = await app.client.get("/status/systems", headers={"Authorization": CORPUS["expired"] or ""})
        assert response.status_code == 401
        assert (await response.get_json())["message"] == "Access token expired"


async def test_hs256_with_public_key_is_refused_even_when_hs256_is_allowed() -> None:
    config = make_config({**AUTH, "algorithms": ["RS256", "HS256"]})
    async with in_process(config, key_source=_source()) as app:
        response = await app.client.get(
            "/compute/cluster-a/probe", headers={"Authorization": f"Bearer {tokens.hs256_with_public_key()}"}
        )
        assert response.status_code == 401
        assert app.reached == []


async def test_algorithm_outside_the_allow_list_is_refused() -> None:
    config = make_config({**AUTH, "algorithms": ["ES256"]})
    async with in_process(config, key_source=_source()) as app:
        response = await app.client.get("/status/systems", headers={"Authorization": f"Bearer {tokens.sign()}"})
        assert response.status_code == 401
        ec = tokens.sign(key=tokens.EC_KEY, alg="ES256")
        response = await app.client.get("/status/systems", headers={"Authorization": f"Bearer {ec}"})
        assert response.status_code == 200


async def test_leeway_accepts_small_clock_skew() -> None:
    import time

    now = int(time.time())
    skewed = tokens.sign(tokens.claims(nbf=now + 10, iat=now + 10, exp=now + 300))
    just_expired = tokens.sign(tokens.claims(iat=now - 400, nbf=now - 400, exp=now - 10))
    async with in_process(make_config({**AUTH, "leeway": 30}), key_source=_source()) as app:
        for token in (skewed, just_expired):
            response = await app.client.get("/status/systems", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
    async with in_process(make_config({**AUTH, "leeway": 0}), key_source=_source()) as app:
        for token in (skewed, just_expired):
            response = await app.client.get("/status/systems", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401


async def test_username_claims_are_tried_in_order() -> None:
    fallback = tokens.sign(tokens.claims(preferred_username=None, username="bob"))
    async with in_process(make_config(AUTH), key_source=_source()) as app:
        response = await app.client.get("/compute/cluster-a/probe", headers={"Authorization": f"Bearer {fallback}"})
        assert await response.get_json() == {"user": "bob"}
    config = make_config({**AUTH, "username_claims": ["sub"]})
    token = tokens.sign(tokens.claims(sub="carol"))
    async with in_process(config, key_source=_source()) as app:
        response = await app.client.get("/compute/cluster-a/probe", headers={"Authorization": f"Bearer {token}"})
        assert await response.get_json() == {"user": "carol"}


async def test_iss_and_aud_are_not_checked_when_not_configured() -> None:
    config = make_config({"jwks_url": "http://127.0.0.1:9/unused"})
    token = tokens.sign(tokens.claims(iss="https://anyone.test", aud=None))
    async with in_process(config, key_source=_source()) as app:
        response = await app.client.get("/status/systems", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


async def test_aud_list_needs_one_accepted_audience() -> None:
    async with in_process(make_config(AUTH), key_source=_source()) as app:
        for aud, status in ((["x", tokens.AUDIENCE], 200), (["x", "y"], 401)):
            token = tokens.sign(tokens.claims(aud=aud))
            response = await app.client.get("/status/systems", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status


async def test_public_routes_need_no_token_and_unknown_routes_still_404() -> None:
    async with in_process(make_config(AUTH), key_source=_source()) as app:
        assert (await app.client.get("/status/liveness/")).status_code == 200
        assert (await app.client.get("/no/such/route")).status_code == 404


async def test_systems_lists_configured_clusters_without_secrets() -> None:
    async with in_process(make_config(AUTH), key_source=_source()) as app:
        response = await app.client.get("/status/systems", headers={"Authorization": f"Bearer {tokens.sign()}"})
        body = await response.get_json()
        assert [s["name"] for s in body["systems"]] == ["cluster-a", "cluster-b"]
        system = body["systems"][0]
        assert system["ssh"] == {"host": "127.0.0.1", "port": 2222}
        assert system["fileSystems"] == [{"path": "/home", "dataType": "users", "defaultWorkDir": True}]
        assert system["scheduler"]["type"] == "slurm"
        assert "credentials" not in str(body) and "known_hosts" not in str(body)


async def test_refused_tokens_are_counted_by_reason() -> None:
    metrics = Metrics()
    wanted = {
        "no header": "missing", "garbage": "malformed", "alg none": "algorithm", "wrong key": "signature",
        "expired": "expired", "not yet valid": "not_yet_valid", "wrong iss": "issuer", "wrong aud": "audience",
        "unknown kid": "unknown_kid", "no user claim": "username",
    }  # fmt: skip
    async with in_process(make_config(AUTH), key_source=_source(), metrics=metrics) as app:
        for name in wanted:
            header = CORPUS[name]
            response = await app.client.get("/compute/cluster-a/probe", headers={} if header is None else {"Authorization": header})
            assert response.status_code == 401
    for name, reason in wanted.items():
        count = metrics.registry.get_sample_value("f7tproxy_token_failures_total", {"reason": reason})
        assert count is not None and count >= 1, (name, reason)
    assert metrics.registry.get_sample_value("f7tproxy_token_failures_total", {"reason": "other"}) is None


async def test_start_warns_when_iss_and_aud_are_not_checked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="f7tproxy.auth"):
        async with in_process(make_config({"jwks_url": "http://127.0.0.1:9/unused"}), key_source=_source()):
            pass
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("auth.issuer: not set" in m for m in said), said
    assert any("auth.audiences: empty" in m for m in said), said
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="f7tproxy.auth"):
        async with in_process(make_config(AUTH), key_source=_source()):
            pass
    assert not [r for r in caplog.records if "not checked" in r.getMessage()]
