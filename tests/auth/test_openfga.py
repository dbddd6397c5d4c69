"""Authorization through openfga-sdk against a server speaking OpenFGA's HTTP Check API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from f7tproxy.auth import LocalKeySource, OpenFgaAuthorizer
from f7tproxy.config import OpenFgaConfig, Secret
from f7tproxy.errors import Forbidden, ServiceUnavailable

from . import tokens
from .fake_openfga import MODEL_ID, STORE_ID, FakeOpenFga
from .inprocess import InProcess, in_process, make_config

AUTH = {"jwks_url": "http://127.0.0.1:9/unused", "issuer": tokens.ISSUER, "audiences": [tokens.AUDIENCE]}


def _bearer(user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.sign(tokens.claims(preferred_username=user))}"}


@contextlib.asynccontextmanager
async def gateway(fga: FakeOpenFga | None, **openfga: Any) -> AsyncIterator[InProcess]:
    """The in-process app with OpenFGA pointed at `fga` (None: at a closed port)."""
    async with trio.open_nursery() as nursery:
        url = await nursery.start(fga.run) if fga is not None else "http://127.0.0.1:9"
        options = {"url": url, "store_id": STORE_ID, "timeout": 2.0, **openfga}
        config = make_config({**AUTH, "openfga": options})
        keys = LocalKeySource(lambda: tokens.jwks(), "test keys")
        async with in_process(config, key_source=keys) as app:
            yield app
        nursery.cancel_scope.cancel()


async def test_member_is_allowed_and_the_request_is_as_documented() -> None:
    fga = FakeOpenFga(tuples={("user:alice", "member", "vcluster:cluster-a")})
    async with gateway(fga) as app:
        response = await app.client.get("/compute/cluster-a/probe", headers=_bearer())
        assert response.status_code == 200
        assert app.reached == [("alice", "cluster-a")]
    [body] = fga.requests
    assert body["tuple_key"] == {"user": "user:alice", "relation": "member", "object": "vcluster:cluster-a"}


async def test_allowed_false_is_403_and_never_reaches_the_handler() -> None:
    fga = FakeOpenFga(tuples={("user:alice", "member", "vcluster:cluster-a")})
    async with gateway(fga) as app:
        response = await app.client.get("/compute/cluster-b/probe", headers=_bearer())
        assert response.status_code == 403
        body = await response.get_json()
        assert set(body) == {"errorType", "message", "data", "user", "causedBy"}
        response = await app.client.get("/compute/cluster-a/probe", headers=_bearer("bob"))
        assert response.status_code == 403
        assert app.reached == []


async def test_unknown_system_is_not_checked() -> None:
    fga = FakeOpenFga()
    async with gateway(fga) as app:
        response = await app.client.get("/compute/no-such-system/probe", headers=_bearer())
        assert response.status_code == 404
    assert fga.requests == []


async def test_status_systems_needs_no_openfga() -> None:
    fga = FakeOpenFga(fail_status=500)
    async with gateway(fga) as app:
        response = await app.client.get("/status/systems", headers=_bearer())
        assert response.status_code == 200
    assert fga.requests == []


async def test_unauthenticated_requests_never_reach_openfga() -> None:
    fga = FakeOpenFga(tuples={("user:alice", "member", "vcluster:cluster-a")})
    async with gateway(fga) as app:
        response = await app.client.get("/compute/cluster-a/probe")
        assert response.status_code == 401
    assert fga.requests == []


@pytest.mark.parametrize(
    "trouble",
    [
        pytest.param({"fail_status": 500}, id="500"),
        pytest.param({"fail_status": 429}, id="429"),
        pytest.param({"omit_allowed": True}, id="no allowed field"),
        pytest.param({"delay": 30.0}, id="slow past the deadline"),
        pytest.param({"api_token": "expected-token"}, id="token refused"),
    ],
)
async def test_openfga_trouble_is_503_never_an_allow(trouble: dict[str, Any]) -> None:
    fga = FakeOpenFga(tuples={("user:alice", "member", "vcluster:cluster-a")}, **trouble)
    async with gateway(fga, timeout=0.5) as app:
        response = await app.client.get("/compute/cluster-a/probe", headers=_bearer())
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        assert app.reached == []


async def test_openfga_unreachable_is_503() -> None:
    async with gateway(None) as app:
        response = await app.client.get("/compute/cluster-a/probe", headers=_bearer())
        assert response.status_code == 503
        assert app.reached == []


async def test_api_token_model_id_relation_and_object_come_from_config() -> None:
    fga = FakeOpenFga(tuples={("user:alice", "user", "cluster:cluster-a")}, api_token="fga-token")
    fga_model = {"user": set(), "cluster": {"user"}}
    import tests.auth.fake_openfga as fake

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fake, "MODEL", fga_model)
        async with gateway(
            fga, api_token="fga-token", authorization_model_id=MODEL_ID, relation="user", object="cluster:{system}"
        ) as app:
            response = await app.client.get("/compute/cluster-a/probe", headers=_bearer())
            assert response.status_code == 200
    assert fga.requests[0]["authorization_model_id"] == MODEL_ID
    assert fga.headers[0]["Authorization"] == "Bearer fga-token"


async def test_decisions_are_cached() -> None:
    fga = FakeOpenFga(tuples={("user:alice", "member", "vcluster:cluster-a")})
    async with gateway(fga, cache_ttl=60) as app:
        for _ in range(3):
            assert (await app.client.get("/compute/cluster-a/probe", headers=_bearer())).status_code == 200
            assert (await app.client.get("/compute/cluster-b/probe", headers=_bearer())).status_code == 403
    assert len(fga.requests) == 2


class _Answers:
    def __init__(self) -> None:
        self.allowed = True
        self.asked = 0

    async def __call__(self, user: str, relation: str, obj: str) -> bool:
        self.asked += 1
        return self.allowed


async def test_cache_expires_after_its_ttl(nursery: trio.Nursery, mock_clock: trio.testing.MockClock) -> None:
    answers = _Answers()
    config = OpenFgaConfig(url="http://unused.test", store_id=STORE_ID, cache_ttl=10.0)
    authorizer = OpenFgaAuthorizer(config, ask=answers)
    await nursery.start(authorizer.run)
    await authorizer.check("alice", "cluster-a")
    answers.allowed = False
    mock_clock.jump(9.9)
    await authorizer.check("alice", "cluster-a")  # still the cached allow
    assert answers.asked == 1
    mock_clock.jump(0.2)
    with pytest.raises(Forbidden):
        await authorizer.check("alice", "cluster-a")
    assert answers.asked == 2
    with pytest.raises(Forbidden):  # denials are cached too
        await authorizer.check("alice", "cluster-a")
    assert answers.asked == 2


async def test_cache_can_be_disabled(nursery: trio.Nursery) -> None:
    answers = _Answers()
    config = OpenFgaConfig(url="http://unused.test", store_id=STORE_ID, cache_ttl=0.0)
    authorizer = OpenFgaAuthorizer(config, ask=answers)
    await nursery.start(authorizer.run)
    for _ in range(3):
        await authorizer.check("alice", "cluster-a")
    assert answers.asked == 3


async def test_not_started_is_503_not_an_allow() -> None:
    config = OpenFgaConfig(url="http://unused.test", store_id=STORE_ID, api_token=Secret(value="x"))
    with pytest.raises(ServiceUnavailable):
        await OpenFgaAuthorizer(config).check("alice", "cluster-a")
