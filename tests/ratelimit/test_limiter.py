"""Token buckets on trio's clock: bursts, refill, scopes, overrides, and nothing spent on a refusal."""

from __future__ import annotations

import trio

from f7tproxy.config import RateLimitConfig, RateRule
from f7tproxy.ratelimit import RateLimiter


def limiter(**rules: object) -> RateLimiter:
    return RateLimiter(RateLimitConfig(**rules))  # type: ignore[arg-type]


async def test_no_rules_means_no_limit() -> None:
    lim = limiter()
    assert not lim.enabled
    assert lim.check(user="alice", system="x", client="127.0.0.1") is None


async def test_burst_then_refusal_then_refill(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(per_user=RateRule(rate=2, burst=3))
    seen = [lim.check(user="alice", system=None, client=None) for _ in range(4)]
    assert [d.allowed for d in seen if d] == [True, True, True, False]
    assert [d.remaining for d in seen if d] == [2, 1, 0, 0]
    refused = seen[3]
    assert refused is not None and refused.scope == "user"
    assert refused.retry_after == 1  # half a second to the next token, rounded up
    assert refused.reset == 2  # 3 tokens at 2/s
    assert refused.headers() == {
        "RateLimit-Limit": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "2", "Retry-After": "1",
    }  # fmt: skip
    await trio.sleep(0.5)
    again = lim.check(user="alice", system=None, client=None)
    assert again is not None and again.allowed and again.remaining == 0
    assert "Retry-After" not in again.headers()
    await trio.sleep(10)
    full = lim.check(user="alice", system=None, client=None)
    assert full is not None and full.remaining == 2  # capped at the burst


async def test_users_are_limited_separately(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(per_user=RateRule(rate=1, burst=1))
    assert lim.check(user="alice", system=None, client=None).allowed  # type: ignore[union-attr]
    assert not lim.check(user="alice", system=None, client=None).allowed  # type: ignore[union-attr]
    assert lim.check(user="bob", system=None, client=None).allowed  # type: ignore[union-attr]


async def test_system_limit_is_shared_by_users(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(per_system=RateRule(rate=1, burst=2))
    assert lim.check(user="alice", system="a", client=None).allowed  # type: ignore[union-attr]
    assert lim.check(user="bob", system="a", client=None).allowed  # type: ignore[union-attr]
    refused = lim.check(user="carol", system="a", client=None)
    assert refused is not None and not refused.allowed and refused.scope == "system"
    assert lim.check(user="carol", system="b", client=None).allowed  # type: ignore[union-attr]


async def test_a_refusal_spends_no_token_anywhere(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(per_user=RateRule(rate=1, burst=5), systems={"a": RateRule(rate=1, burst=1)})
    assert lim.check(user="alice", system="a", client=None).allowed  # type: ignore[union-attr]
    for _ in range(3):
        refused = lim.check(user="alice", system="a", client=None)
        assert refused is not None and refused.scope == "system" and not refused.allowed
    # alice's own bucket lost only the one allowed request
    other = lim.check(user="alice", system="b", client=None)
    assert other is not None and other.scope == "user" and other.remaining == 3


async def test_most_restrictive_bucket_is_reported(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(per_user=RateRule(rate=10, burst=100), per_user_system=RateRule(rate=1, burst=3))
    d = lim.check(user="alice", system="a", client=None)
    assert d is not None and (d.scope, d.limit, d.remaining) == ("user_system", 3, 2)


async def test_overrides_per_user_and_system(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(
        per_user=RateRule(rate=1, burst=1),
        users={"workflow": RateRule(rate=100, burst=50)},
        per_system=RateRule(rate=1, burst=1000),
        systems={"small": RateRule(rate=1, burst=1)},
    )
    assert lim.check(user="workflow", system=None, client=None).limit == 50  # type: ignore[union-attr]
    assert lim.check(user="alice", system=None, client=None).limit == 1  # type: ignore[union-attr]
    assert lim.check(user=None, system="small", client=None).limit == 1  # type: ignore[union-attr]
    assert lim.check(user=None, system="big", client=None).limit == 1000  # type: ignore[union-attr]


async def test_client_address_limits_only_unauthenticated_requests(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(per_client=RateRule(rate=1, burst=1))
    assert lim.check(user=None, system=None, client="127.0.0.1").allowed  # type: ignore[union-attr]
    assert not lim.check(user=None, system=None, client="127.0.0.1").allowed  # type: ignore[union-attr]
    assert lim.check(user="alice", system=None, client="127.0.0.1") is None


async def test_idle_buckets_are_forgotten(autojump_clock: trio.abc.Clock) -> None:
    lim = limiter(per_user=RateRule(rate=1, burst=10))
    for n in range(100):
        lim.check(user=f"u{n}", system=None, client=None)
    assert lim.bucket_count() == 100
    await trio.sleep(61)
    lim.check(user="late", system=None, client=None)
    assert lim.bucket_count() == 1
