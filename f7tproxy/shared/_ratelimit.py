"""Rate limits whose buckets live in Redis, so that a user's limit holds over all replicas.

One Lua script per check refills every bucket the request takes from (on Redis's own
clock, so replicas' clocks do not matter), and takes one token from each only if all
have one: the same all-or-nothing rule as the in-process `RateLimiter`, atomically.
The decision itself (which bucket answers, the headers) is `ratelimit.decide`, shared
with the in-process limiter. Redis unreachable: this process's buckets decide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import RateLimitConfig
from ..errors import SharedUnavailable
from ..ratelimit import Decision, RateLimiter, decide
from ._store import SharedStore, script_result

if TYPE_CHECKING:
    import coredis

# KEYS: the buckets; ARGV: rate, burst per bucket. Replies (allowed, {tokens before taking}),
# the tokens as strings (Redis truncates Lua numbers to integers).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local before, allowed = {}, 1
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local v = redis.call('HMGET', KEYS[i], 'tokens', 'stamp')
  local tokens = burst
  if v[1] then tokens = math.min(burst, tonumber(v[1]) + math.max(0, now - tonumber(v[2])) * rate) end
  before[i] = tokens
  if tokens < 1 then allowed = 0 end
end
local out = {}
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local left = before[i] - allowed
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.6f', left), 'stamp', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil((burst - left) / rate * 1000) + 1000)
  out[i] = string.format('%.6f', before[i])
end
return {allowed, out}
"""


class SharedRateLimiter:
    """`RateLimiter`'s interface (`take`) over buckets in Redis; `local` answers when Redis does not."""

    def __init__(self, local: RateLimiter, store: SharedStore) -> None:
        self.local = local
        self._store = store

    @property
    def config(self) -> RateLimitConfig:
        return self.local.config

    @property
    def enabled(self) -> bool:
        return self.local.enabled

    async def take(self, *, user: str | None, system: str | None, client: str | None) -> Decision | None:
        """Take a token from every bucket that applies, in Redis (see `RateLimiter.check`)."""
        rules = self.local.rules(user, system, client)
        if not rules:
            return None
        keys = [self._store.prefix + "rl:" + ":".join(key) for _scope, key, _rule in rules]
        args: list[str] = []
        for _scope, _key, rule in rules:
            args += [repr(float(rule.rate)), str(rule.burst)]

        async def run(client_: coredis.Redis[bytes]) -> Any:
            return await self._store.script(client_, _TAKE)(keys=keys, args=args)

        try:
            reply = script_result(await self._store.call("rate_limit", run))
        except SharedUnavailable:
            return self.local.check(user=user, system=system, client=client)
        _allowed, before = reply
        return decide([(scope, rule, float(t)) for (scope, _key, rule), t in zip(rules, before, strict=True)])

    def bucket_count(self) -> int:
        """Buckets held in this process (the fallback's; Redis expires its own)."""
        return self.local.bucket_count()
