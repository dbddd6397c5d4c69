"""The cache of slow-changing answers, in virtual time (trio's autojump clock)."""

from __future__ import annotations

import attrs
import pytest
import trio

from f7tproxy.config import CacheConfig
from f7tproxy.errors import InternalError
from f7tproxy.observability import Metrics
from f7tproxy.scheduler import Lookup, TtlCache, status_caches

from ..ssh.fakes import cluster


@attrs.define
class Source:
    """A remote answer that takes `duration` seconds; `failing` makes the next fetches fail."""

    duration: float = 1.0
    failing: str | None = None
    calls: int = 0

    async def fetch(self) -> str:
        self.calls += 1
        call = self.calls
        await trio.sleep(self.duration)
        if self.failing is not None:
            raise InternalError(self.failing)
        return f"answer {call}"


def cache(ttl: float = 30, max_entries: int = 100) -> tuple[TtlCache[str, str], list[Lookup]]:
    seen: list[Lookup] = []
    return TtlCache(ttl=ttl, max_entries=max_entries, on_lookup=seen.append), seen


async def ask(kept: TtlCache[str, str], source: Source, answers: list[str]) -> None:
    answers.append(await kept.get("k", source.fetch))


async def test_a_kept_value_expires_after_its_ttl(autojump_clock: trio.abc.Clock) -> None:
    kept, seen = cache(ttl=30)
    source = Source()
    assert await kept.get("k", source.fetch) == "answer 1"
    await trio.sleep(28)  # fetched at t=1: fresh until t=31
    assert await kept.get("k", source.fetch) == "answer 1"
    await trio.sleep(3)
    assert await kept.get("k", source.fetch) == "answer 2"
    assert seen == ["miss", "hit", "miss"]


async def test_concurrent_misses_share_one_fetch(autojump_clock: trio.abc.Clock) -> None:
    kept, seen = cache()
    source = Source(duration=2)
    answers: list[str] = []
    async with trio.open_nursery() as n:
        for _ in range(10):
            n.start_soon(ask, kept, source, answers)
    assert answers == ["answer 1"] * 10 and source.calls == 1
    assert sorted(seen) == ["joined"] * 9 + ["miss"]
    assert trio.current_time() == pytest.approx(2)


async def test_failures_reach_the_waiters_and_are_not_kept(autojump_clock: trio.abc.Clock) -> None:
    kept, seen = cache()
    source = Source(failing="sinfo failed (exit status 1)")
    errors: list[InternalError] = []

    async def ask() -> None:
        try:
            await kept.get("k", source.fetch)
        except InternalError as exc:
            errors.append(exc)

    async with trio.open_nursery() as n:
        for _ in range(3):
            n.start_soon(ask)
    assert source.calls == 1 and len(errors) == 3
    assert len({id(e) for e in errors}) == 3  # each caller raises its own copy
    assert {e.message for e in errors} == {"sinfo failed (exit status 1)"}
    source.failing = None
    assert await kept.get("k", source.fetch) == "answer 2"  # the failure was not kept
    assert len(kept) == 1


async def test_entries_are_bounded_oldest_first_and_expired_ones_leave(autojump_clock: trio.abc.Clock) -> None:
    kept, _ = cache(ttl=30, max_entries=3)
    source = Source(duration=0.1)
    for key in "abcde":
        await kept.get(key, source.fetch)
    assert len(kept) == 3 and source.calls == 5
    assert await kept.get("e", source.fetch) == "answer 5"  # kept
    assert await kept.get("a", source.fetch) == "answer 6"  # evicted: fetched again
    assert len(kept) == 3
    await trio.sleep(31)
    await kept.get("f", source.fetch)
    assert len(kept) == 1  # the expired ones made room as the new one came


async def test_a_waiter_fetches_when_the_fetching_caller_is_cancelled(autojump_clock: trio.abc.Clock) -> None:
    kept, seen = cache()
    source = Source(duration=5)
    answers: list[str] = []
    async with trio.open_nursery() as n:
        with trio.move_on_after(1):  # the first caller's client leaves after 1 s
            async with trio.open_nursery() as first:
                first.start_soon(ask, kept, source, answers)
                await trio.sleep(0.5)
                n.start_soon(ask, kept, source, answers)
                await trio.sleep_forever()
    assert answers == ["answer 2"] and source.calls == 2
    assert seen == ["miss", "miss"]
    assert trio.current_time() == pytest.approx(6)


async def test_a_waiter_is_bounded_by_its_own_deadline(autojump_clock: trio.abc.Clock) -> None:
    kept, _ = cache()
    source = Source(duration=10)
    async with trio.open_nursery() as n:
        n.start_soon(kept.get, "k", source.fetch)
        await trio.sleep(0.1)
        with pytest.raises(trio.TooSlowError):
            with trio.fail_after(2):
                await kept.get("k", source.fetch)
    assert await kept.get("k", source.fetch) == "answer 1"  # the first caller's fetch was kept


async def test_ttl_zero_keeps_nothing(autojump_clock: trio.abc.Clock) -> None:
    kept, seen = cache(ttl=0)
    source = Source(duration=0)
    assert [await kept.get("k", source.fetch) for _ in range(3)] == ["answer 1", "answer 2", "answer 3"]
    assert len(kept) == 0 and seen == []


async def test_a_systems_caches_follow_its_config_and_count_in_metrics(autojump_clock: trio.abc.Clock) -> None:
    metrics = Metrics()
    config = attrs.evolve(cluster("c1"), cache=CacheConfig(nodes=5, partitions=0, max_entries=7, shared=True))
    caches = status_caches(config, lambda kind, how: metrics.cache_lookup("c1", kind, how))
    assert (caches.nodes.ttl, caches.partitions.ttl, caches.reservations.ttl, caches.userinfo.ttl) == (5, 0, 30, 30)
    assert caches.nodes.max_entries == 7
    assert caches.scope("alice") == caches.scope("bob")
    source = Source(duration=0)
    for _ in range(3):
        await caches.reservations.get(caches.scope("alice"), source.fetch)  # type: ignore[arg-type]

    def count(kind: str, result: str) -> float | None:
        return metrics.registry.get_sample_value(
            "f7tproxy_cache_lookups_total", {"system": "c1", "kind": kind, "result": result}
        )

    assert (count("reservations", "miss"), count("reservations", "hit")) == (1, 2)
    assert not status_caches(cluster("c1")).shared  # per user unless the site says otherwise
