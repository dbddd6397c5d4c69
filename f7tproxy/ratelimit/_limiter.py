"""Token buckets per user, system, (user, system) and client address.

A bucket holds up to `burst` tokens and gains `rate` tokens a second; a request
takes one token from every bucket that applies to it, or from none if any of
them is empty (then it is refused, and nothing is spent). Time is
`trio.current_time()`, so tests with `autojump_clock` are exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import trio

from ..config import RateLimitConfig, RateRule

# Buckets that have refilled completely are forgotten, at most this often.
_SWEEP_INTERVAL = 60.0


@attrs.frozen
class Decision:
    """The limiter's answer for one request, from the most restrictive bucket that applied."""

    allowed: bool
    scope: str
    """Which limit decided: ``user``, ``system``, ``user_system`` or ``client``."""
    limit: int
    """That bucket's size (RateLimit-Limit)."""
    remaining: int
    """Whole tokens left in it after this request (RateLimit-Remaining)."""
    reset: int
    """Seconds until it is full again (RateLimit-Reset)."""
    retry_after: int | None
    """Refused requests: seconds until one request would be allowed (Retry-After)."""

    def headers(self) -> dict[str, str]:
        """The RateLimit-* headers (and Retry-After when refused) to answer with."""
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if self.retry_after is not None:
            out["Retry-After"] = str(self.retry_after)
        return out


@attrs.define
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """The process's rate limits (`runtime.rate_limiter`)."""

    def __init__(self, config: RateLimitConfig, *, clock: Callable[[], float] = trio.current_time) -> None:
        self.config = config
        self._clock = clock
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._last_sweep: float | None = None
        c = config
        self._enabled = any((c.per_user, c.per_system, c.per_user_system, c.per_client, c.users, c.systems))

    @property
    def enabled(self) -> bool:
        """Whether any limit is configured (when none is, `check` always answers None)."""
        return self._enabled

    def _rules(self, user: str | None, system: str | None, client: str | None) -> list[tuple[str, tuple[str, ...], RateRule]]:
        c = self.config
        rules: list[tuple[str, tuple[str, ...], RateRule | None]] = []
        if user is not None:
            rules.append(("user", ("user", user), c.users.get(user, c.per_user)))
            if system is not None:
                rules.append(("user_system", ("user_system", user, system), c.per_user_system))
        elif client is not None:
            rules.append(("client", ("client", client), c.per_client))
        if system is not None:
            rules.append(("system", ("system", system), c.systems.get(system, c.per_system)))
        return [(scope, key, rule) for scope, key, rule in rules if rule is not None]

    def rules(self, user: str | None, system: str | None, client: str | None) -> list[tuple[str, tuple[str, ...], RateRule]]:
        """The buckets a request takes from: (scope, bucket key, rule), in a fixed order."""
        return self._rules(user, system, client)

    def check(self, *, user: str | None, system: str | None, client: str | None) -> Decision | None:
        """Take a token for a request of `user` (None: unauthenticated, then `client` counts)
        to `system` (None: no system in the route).

        Returns None when no limit applies, else the decision; a refused request spends nothing.
        """
        rules = self._rules(user, system, client)
        if not rules:
            return None
        now = self._clock()
        self._sweep(now)
        buckets = [self._refill(key, rule, now) for _scope, key, rule in rules]
        decision = decide([(scope, rule, b.tokens) for (scope, _key, rule), b in zip(rules, buckets, strict=True)])
        if decision.allowed:
            for b in buckets:
                b.tokens -= 1
        return decision

    async def take(self, *, user: str | None, system: str | None, client: str | None) -> Decision | None:
        """`check`, in the form the shared limiter has (`f7tproxy.shared.SharedRateLimiter`)."""
        return self.check(user=user, system=system, client=client)

    def _refill(self, key: tuple[str, ...], rule: RateRule, now: float) -> _Bucket:
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(tokens=float(rule.burst), stamp=now)
        else:
            b.tokens = min(float(rule.burst), b.tokens + (now - b.stamp) * rule.rate)
            b.stamp = now
        return b

    def _sweep(self, now: float) -> None:
        if self._last_sweep is not None and now - self._last_sweep < _SWEEP_INTERVAL:
            return
        self._last_sweep = now
        # A bucket that would be full now holds no information: drop it.
        longest = max((r.burst / r.rate for r in self._all_rules()), default=0.0)
        for key, b in list(self._buckets.items()):
            if now - b.stamp >= longest:
                del self._buckets[key]

    def _all_rules(self) -> list[RateRule]:
        c = self.config
        found = [c.per_user, c.per_system, c.per_user_system, c.per_client, *c.users.values(), *c.systems.values()]
        return [r for r in found if r is not None]

    def bucket_count(self) -> int:
        """How many buckets are held (for tests and the admin snapshot)."""
        return len(self._buckets)


def decide(states: list[tuple[str, RateRule, float]]) -> Decision:
    """The decision for a request, from each bucket's (scope, rule, tokens before taking):
    refused by the bucket that needs longest for one token if any holds less than one,
    else allowed, reporting the bucket with fewest whole tokens left after taking."""
    empty = [s for s in states if s[2] < 1]
    if empty:
        scope, rule, tokens = max(empty, key=lambda s: (1 - s[2]) / s[1].rate)
        wait = (1 - tokens) / rule.rate
        return Decision(False, scope, rule.burst, 0, _ceil(_to_full(rule, tokens)), max(1, _ceil(wait)))
    after = [(scope, rule, tokens - 1) for scope, rule, tokens in states]
    scope, rule, tokens = min(after, key=lambda s: (math.floor(s[2]), -_to_full(s[1], s[2])))
    return Decision(True, scope, rule.burst, math.floor(tokens), _ceil(_to_full(rule, tokens)), None)


def _to_full(rule: RateRule, tokens: float) -> float:
    return (rule.burst - tokens) / rule.rate


def _ceil(x: float) -> int:
    # Float noise (2.0000000001) must not add a whole second.
    return math.ceil(round(x, 6))
