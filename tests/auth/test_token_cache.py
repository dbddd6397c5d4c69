"""The cache of validated tokens: kept until `exp`, never past a key rotation, never for another token."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import trio

from f7tproxy.auth import KeyStore, LocalKeySource, TokenRefused, TokenValidator
from f7tproxy.config import AuthConfig
from f7tproxy.observability import Metrics

from . import tokens

REFRESH = 60.0


class Clock:
    """Unix time the validator sees (the real one unless moved)."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self) -> int:
        return self.now


def validator(jwks: dict[str, Any], clock: Clock, metrics: Metrics, **config: Any) -> tuple[TokenValidator, KeyStore]:
    store = KeyStore(LocalKeySource(lambda: jwks, "test keys"), timeout=5, refetch_interval=30,
                     refresh_interval=REFRESH)  # fmt: skip
    auth = AuthConfig(jwks_url="http://127.0.0.1:9/unused", leeway=0, **config)
    checker = TokenValidator(auth, store, issuer=lambda: tokens.ISSUER, audiences=[tokens.AUDIENCE], now=clock,
                             on_lookup=metrics.token_cache_lookup)  # fmt: skip
    return checker, store


def lookups(metrics: Metrics, result: str) -> float:
    return metrics.registry.get_sample_value("f7tproxy_token_cache_lookups_total", {"result": result}) or 0.0


async def test_a_token_is_checked_once_then_kept_until_its_exp(nursery: trio.Nursery) -> None:
    clock, metrics = Clock(), Metrics()
    checker, store = validator(tokens.jwks(), clock, metrics)
    await nursery.start(store.run)
    token = tokens.sign(tokens.claims(iat=clock.now, nbf=clock.now, exp=clock.now + 100))
    for _ in range(3):
        assert (await checker.validate(token)).name == "alice"
    assert (lookups(metrics, "miss"), lookups(metrics, "hit")) == (1, 2)
    clock.now += 100  # at exp: no longer served from the cache, and refused by the full check
    with pytest.raises(TokenRefused) as refused:
        await checker.validate(token)
    assert refused.value.expired
    assert lookups(metrics, "hit") == 2


@pytest.mark.parametrize("how", ["payload changed", "signature changed", "byte appended", "other key"])
async def test_a_forged_token_is_never_served_from_the_cache(nursery: trio.Nursery, how: str) -> None:
    clock, metrics = Clock(), Metrics()
    checker, store = validator(tokens.jwks(), clock, metrics)
    await nursery.start(store.run)
    good = tokens.sign()
    await checker.validate(good)
    await checker.validate(good)
    assert lookups(metrics, "hit") == 1
    head, body, signature = good.split(".")
    forged = {
        "payload changed": f"{head}.{tokens.b64(json.dumps(tokens.claims(preferred_username='root')))}.{signature}",
        "signature changed": f"{head}.{body}.{signature[:10]}{'B' if signature[10] == 'A' else 'A'}{signature[11:]}",
        "byte appended": f"{good}A",
        "other key": tokens.sign(key=tokens.OTHER_KEY),
    }[how]
    with pytest.raises(TokenRefused):
        await checker.validate(forged)
    assert lookups(metrics, "hit") == 1


async def test_a_key_rotation_that_removes_the_key_drops_its_tokens(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    clock, metrics = Clock(), Metrics()
    jwks = tokens.jwks()
    checker, store = validator(jwks, clock, metrics)
    await nursery.start(store.run)
    token = tokens.sign()
    await checker.validate(token)
    await trio.sleep(REFRESH + 1)  # a refresh bringing the same keys keeps the cached token
    await checker.validate(token)
    assert lookups(metrics, "hit") == 1
    jwks["keys"] = tokens.jwks(tokens.OTHER_KEY)["keys"]  # kid "good" now names another key
    await trio.sleep(REFRESH + 1)
    with pytest.raises(TokenRefused) as refused:
        await checker.validate(token)
    assert refused.value.kind == "signature"
    assert lookups(metrics, "hit") == 1


async def test_the_cache_is_bounded(nursery: trio.Nursery) -> None:
    clock, metrics = Clock(), Metrics()
    checker, store = validator(tokens.jwks(), clock, metrics, token_cache_entries=2)
    await nursery.start(store.run)
    first, second, third = (tokens.sign(tokens.claims(sub=f"id-{i}")) for i in range(3))
    for token in (first, second, third, third, first):
        await checker.validate(token)
    # `first` was dropped to make room for `third`: checked again in full.
    assert (lookups(metrics, "miss"), lookups(metrics, "hit")) == (4, 1)
