"""The key store: start, refresh, rate-limited refetch on unknown kids, IdP outages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing

from f7tproxy.auth import KeySourceError, KeysUnavailable, KeyStore

from . import tokens


class FakeSource:
    """A key source whose answer the test controls, counting fetches."""

    description = "fake IdP"

    def __init__(self, doc: Mapping[str, Any] | None) -> None:
        self.doc = doc
        self.down = doc is None
        self.slow = False
        self.fetches = 0

    async def fetch(self) -> Mapping[str, Any]:
        self.fetches += 1
        if self.slow:
            await trio.sleep_forever()
        if self.down or self.doc is None:
            raise KeySourceError("connection refused")
        return self.doc


def _store(
    source: FakeSource, *, timeout: float = 5.0, refetch_interval: float = 30.0, refresh_interval: float = 3600.0
) -> KeyStore:
    return KeyStore(source, timeout=timeout, refetch_interval=refetch_interval, refresh_interval=refresh_interval)


async def test_keys_are_loaded_before_ready(nursery: trio.Nursery) -> None:
    source = FakeSource(tokens.jwks())
    store = _store(source)
    await nursery.start(store.run)
    assert store.loaded
    assert await store.key_for("good") is not None
    assert await store.key_for("ec") is not None
    assert source.fetches == 1


async def test_unknown_kid_refetches_at_most_once_per_interval(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    source = FakeSource(tokens.jwks())
    store = _store(source, refetch_interval=30.0)
    await nursery.start(store.run)
    assert await store.key_for("bogus-0") is None
    assert source.fetches == 1  # the start fetch counts: no refetch within the interval
    await trio.sleep(30)
    # A flood of bogus kids, concurrently and then one after another: one refetch.
    async with trio.open_nursery() as flood:
        for i in range(50):
            flood.start_soon(store.key_for, f"bogus-{i}")
    for i in range(50):
        assert await store.key_for(f"more-bogus-{i}") is None
    assert source.fetches == 2  # the start, then one refetch
    await trio.sleep(30)
    assert await store.key_for("bogus-again") is None
    assert source.fetches == 3


async def test_new_key_is_picked_up_on_its_first_token(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    source = FakeSource(tokens.jwks(tokens.GOOD_KEY))
    store = _store(source)
    await nursery.start(store.run)
    await trio.sleep(30)
    assert await store.key_for("ec") is None  # not published yet (uses the refetch)
    source.doc = tokens.jwks(tokens.GOOD_KEY, tokens.EC_KEY)
    assert await store.key_for("ec") is None  # within the interval: no new fetch yet
    await trio.sleep(30)
    assert await store.key_for("ec") is not None
    assert source.fetches == 3


async def test_cached_keys_are_served_while_the_idp_is_down(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    source = FakeSource(tokens.jwks())
    store = _store(source, refresh_interval=60.0)
    await nursery.start(store.run)
    source.down = True
    await trio.sleep(600)  # several failed refreshes
    assert source.fetches > 2
    assert await store.key_for("good") is not None
    assert await store.key_for("unknown") is None


async def test_slow_idp_is_bounded_by_the_timeout(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    source = FakeSource(tokens.jwks())
    store = _store(source, timeout=5.0)
    await nursery.start(store.run)
    source.slow = True
    await trio.sleep(30)
    with trio.fail_after(6):  # returns after the 5 s fetch deadline, with no key
        assert await store.key_for("unknown") is None
    assert await store.key_for("good") is not None


async def test_idp_down_at_start_means_503_until_keys_arrive(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    source = FakeSource(None)
    store = _store(source)
    await nursery.start(store.run)  # ready anyway: the API opens, liveness answers
    assert not store.loaded
    with pytest.raises(KeysUnavailable):
        await store.key_for("good")
    with pytest.raises(KeysUnavailable):
        await store.key_for(None)
    source.doc, source.down = tokens.jwks(), False
    await trio.sleep(120)  # background retries with backoff
    assert store.loaded
    assert await store.key_for("good") is not None


async def test_refresh_drops_a_withdrawn_key(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    source = FakeSource(tokens.jwks(tokens.GOOD_KEY, tokens.EC_KEY))
    store = _store(source, refresh_interval=3600.0)
    await nursery.start(store.run)
    source.doc = tokens.jwks(tokens.GOOD_KEY)
    await trio.sleep(3601)
    assert await store.key_for("ec") is None
    assert await store.key_for("good") is not None


async def test_token_without_kid_uses_the_only_key(nursery: trio.Nursery) -> None:
    one = FakeSource(tokens.jwks(tokens.GOOD_KEY))
    store = _store(one)
    await nursery.start(store.run)
    assert await store.key_for(None) is not None
    two = FakeSource(tokens.jwks())
    store2 = _store(two)
    await nursery.start(store2.run)
    assert await store2.key_for(None) is None


async def test_unusable_keys_and_non_signing_keys_are_skipped(nursery: trio.Nursery) -> None:
    doc = tokens.jwks(tokens.GOOD_KEY)
    doc["keys"] += [{"kty": "RSA", "kid": "broken", "n": "x"}, {**doc["keys"][0], "kid": "enc", "use": "enc"}]
    store = _store(FakeSource(doc))
    await nursery.start(store.run)
    assert await store.key_for("good") is not None
    assert await store.key_for("broken") is None
    assert await store.key_for("enc") is None
