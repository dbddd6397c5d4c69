"""Rate limits in Redis: one limit over replicas; Redis down or hung: local buckets, at once."""

from __future__ import annotations

import time

import trio

from f7tproxy.config import RateLimitConfig, RateRule
from f7tproxy.ratelimit import RateLimiter
from f7tproxy.shared import SharedRateLimiter, SharedStore

from .conftest import Redis, store

CONFIG = RateLimitConfig(per_user=RateRule(rate=0.01, burst=4), per_system=RateRule(rate=100, burst=100))


def failures(s: SharedStore, what: str) -> float:
    value = s._metrics.registry.get_sample_value("f7tproxy_shared_state_failures_total", {"what": what})
    return value or 0.0


async def test_a_users_limit_holds_over_two_replicas(redis: Redis) -> None:
    a, b = store(redis.url), store(redis.url)
    async with trio.open_nursery() as nursery:
        await nursery.start(a.run)
        await nursery.start(b.run)
        la, lb = SharedRateLimiter(RateLimiter(CONFIG), a), SharedRateLimiter(RateLimiter(CONFIG), b)
        answers = []
        for i in range(6):
            limiter = la if i % 2 == 0 else lb
            d = await limiter.take(user="alice", system="c1", client=None)
            assert d is not None
            answers.append((d.allowed, d.scope, d.remaining))
        # 4 in all, not 4 per replica; the refusal names the user's bucket
        assert answers == [(True, "user", 3), (True, "user", 2), (True, "user", 1), (True, "user", 0),
                           (False, "user", 0), (False, "user", 0)]  # fmt: skip
        other = await lb.take(user="bob", system="c1", client=None)
        assert other is not None and other.allowed
        assert failures(a, "rate_limit") == failures(b, "rate_limit") == 0
        nursery.cancel_scope.cancel()


async def test_redis_down_falls_back_to_local_buckets(redis: Redis) -> None:
    s = store(redis.url)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        limiter = SharedRateLimiter(RateLimiter(CONFIG), s)
        assert (await limiter.take(user="alice", system="c1", client=None)).allowed  # type: ignore[union-attr]
        redis.stop()
        start = time.monotonic()
        seen = [await limiter.take(user="alice", system="c1", client=None) for _ in range(5)]
        assert time.monotonic() - start < 5 * 0.25 + 1
        # this process's buckets: 4 allowed, then refused
        assert [d.allowed for d in seen if d is not None] == [True, True, True, True, False]
        assert failures(s, "rate_limit") == 5
        assert not s.reachable
        redis.start()
        d = await limiter.take(user="carol", system="c1", client=None)
        assert d is not None and d.allowed and s.reachable
        nursery.cancel_scope.cancel()


async def test_hung_redis_costs_one_deadline_per_call(redis: Redis) -> None:
    s = store(redis.url, timeout=0.3)
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        limiter = SharedRateLimiter(RateLimiter(CONFIG), s)
        assert await limiter.take(user="alice", system="c1", client=None) is not None
        redis.freeze()
        try:
            start = time.monotonic()
            d = await limiter.take(user="alice", system="c1", client=None)
            took = time.monotonic() - start
        finally:
            redis.freeze(False)
        assert d is not None and d.allowed
        assert 0.25 <= took < 1.5, took
        assert failures(s, "rate_limit") == 1
        nursery.cancel_scope.cancel()


async def test_not_started_answers_locally_at_once() -> None:
    s = store("redis://127.0.0.1:1/0")
    limiter = SharedRateLimiter(RateLimiter(CONFIG), s)
    d = await limiter.take(user="alice", system="c1", client=None)
    assert d is not None and d.allowed and failures(s, "rate_limit") == 1
