"""The client address's rate limit is taken before the token is checked, once per request."""

from __future__ import annotations

from f7tproxy.auth import LocalKeySource
from f7tproxy.observability import Metrics

from ..auth import tokens
from ..auth.inprocess import in_process, make_config

AUTH = {"jwks_url": "http://127.0.0.1:9/unused", "issuer": tokens.ISSUER, "audiences": [tokens.AUDIENCE]}
CLIENT = {"client": ("127.0.0.9", 40000)}
OTHER_CLIENT = {"client": ("127.0.0.10", 40000)}
PROBE = "/compute/cluster-a/probe"


def _source() -> LocalKeySource:
    return LocalKeySource(lambda: tokens.jwks(), "test keys")


async def test_a_flood_of_bad_tokens_gets_429_from_the_client_limit() -> None:
    metrics = Metrics()
    config = make_config(AUTH, rate_limit={"per_client": {"rate": 0.001, "burst": 3}, "per_user": {"rate": 100, "burst": 100}})
    async with in_process(config, key_source=_source(), metrics=metrics) as app:
        bad = {"Authorization": f"Bearer {tokens.sign(key=tokens.OTHER_KEY)}"}
        statuses = [(await app.client.get(PROBE, headers=bad, scope_base=CLIENT)).status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 429, 429]
        refused = await app.client.get(PROBE, headers=bad, scope_base=CLIENT)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        body = await refused.get_json()
        assert set(body) == {"errorType", "message", "data", "user", "causedBy"} and "client limit" in body["message"]
        # Even a good token from that address waits; another address is not affected.
        good = {"Authorization": f"Bearer {tokens.sign()}"}
        assert (await app.client.get(PROBE, headers=good, scope_base=CLIENT)).status_code == 429
        assert (await app.client.get(PROBE, headers=bad, scope_base=OTHER_CLIENT)).status_code == 401
        assert app.reached == []
    assert metrics.registry.get_sample_value("f7tproxy_rate_limited_total", {"scope": "client"}) == 4
    # the refused requests never reached token validation
    assert metrics.registry.get_sample_value("f7tproxy_token_failures_total", {"reason": "signature"}) == 4


async def test_authenticated_requests_take_one_client_token_and_their_user_tokens() -> None:
    config = make_config(AUTH, rate_limit={"per_client": {"rate": 0.001, "burst": 4}, "per_user": {"rate": 0.001, "burst": 6}})
    async with in_process(config, key_source=_source()) as app:
        good = {"Authorization": f"Bearer {tokens.sign()}"}
        answers = [await app.client.get(PROBE, headers=good, scope_base=CLIENT) for _ in range(5)]
        assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
        # The headers show the tighter bucket: the client's (3, 2, 1, 0 left), not the user's.
        assert [r.headers["RateLimit-Remaining"] for r in answers[:4]] == ["3", "2", "1", "0"]
        assert answers[0].headers["RateLimit-Limit"] == "4"
        assert (await answers[4].get_json())["message"].startswith("Too many requests (client limit)")
        # The user's bucket was charged once per allowed request (6 - 4 - 1 = 1 left, tighter
        # than the other address's client bucket), not for the one the client limit refused.
        other = await app.client.get(PROBE, headers=good, scope_base=OTHER_CLIENT)
        assert other.status_code == 200 and other.headers["RateLimit-Remaining"] == "1"
        assert len(app.reached) == 5


async def test_exempt_and_unmatched_routes_take_no_client_token() -> None:
    config = make_config(AUTH, rate_limit={"per_client": {"rate": 0.001, "burst": 1}})
    async with in_process(config, key_source=_source()) as app:
        for _ in range(3):
            assert (await app.client.get("/status/liveness/", scope_base=CLIENT)).status_code == 200
            assert (await app.client.get("/no/such/route", scope_base=CLIENT)).status_code == 404
        assert (await app.client.get(PROBE, scope_base=CLIENT)).status_code == 401
        assert (await app.client.get(PROBE, scope_base=CLIENT)).status_code == 429
