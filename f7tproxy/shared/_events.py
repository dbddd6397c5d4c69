"""Job-event numbers in Redis: a job stream resumed with `Last-Event-ID` on any replica goes on
after that event, with no change sent twice and none left out.

    {prefix}ev:{system}:{user}:{job_id}   list of the job's numbered states, oldest first, each
                                          JSON {"seq": n, "at": ms on Redis's clock, "digest": ...};
                                          at most LOG_ENTRIES, expires EVENTS_TTL after its last write

Only watchers write it, for jobs that have listeners, and only when they see a change: one
script call numbers all the changes of one poll. A state another replica has numbered gets
that replica's number; a state this replica sees late (its poll lagged behind the other's)
gets the number it had, if the next state was numbered less than LAG ago; anything else is a
new change, numbered after the last one. Redis unreachable: the watcher numbers on (locally).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import SharedUnavailable
from ._store import SharedStore, script_result

if TYPE_CHECKING:
    import coredis

EVENTS_TTL = 86400.0
"""How long a job's numbered states are kept after the last change a watcher saw (seconds)."""
LOG_ENTRIES = 16
"""Numbered states kept per job (a late poll is matched against these)."""
LAG = 30.0
"""A state seen again less than this after the next one was numbered is a late poll, not a new change."""

# KEYS: one log per job. ARGV: ttl ms, lag ms, entries kept, then per key: the state's digest
# and the least number it may get (one more than its watcher's last). Replies {seq, top} per key.
_NUMBER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, lag, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for k = 1, #KEYS do
  local digest, least = ARGV[2 + 2 * k], tonumber(ARGV[3 + 2 * k])
  local raw = redis.call('LRANGE', KEYS[k], 0, -1)
  local log = {}
  for i = 1, #raw do log[i] = cjson.decode(raw[i]) end
  local n = #log
  local top = 0
  if n > 0 then top = log[n].seq end
  local seq = nil
  for i = n, 1, -1 do
    if log[i].seq < least then break end
    if log[i].digest == digest then
      if i == n or now - log[i + 1].at < lag then seq = log[i].seq end
      break
    end
  end
  if seq == nil then
    seq = math.max(top + 1, least)
    redis.call('RPUSH', KEYS[k], cjson.encode({seq = seq, at = now, digest = digest}))
    redis.call('LTRIM', KEYS[k], -keep, -1)
    top = seq
  end
  redis.call('PEXPIRE', KEYS[k], ttl)
  out[k] = {seq, top}
end
return out
"""


class SharedEventNumbers:
    """The `events.EventNumbers` kept in Redis (see `JobWatchers`)."""

    def __init__(self, store: SharedStore, *, ttl: float = EVENTS_TTL, lag: float = LAG) -> None:
        self._store = store
        self._ttl = ttl
        self._lag = lag

    def _key(self, system: str, user: str, job_id: str) -> str:
        return f"{self._store.prefix}ev:{system}:{user}:{job_id}"

    async def number(self, system: str, user: str, states: Sequence[tuple[str, str, int]]
                     ) -> list[tuple[int, int]] | None:  # fmt: skip
        """Numbers for new states of jobs, each `(job_id, digest, least)`: `(seq, top)` per state,
        `top` the job's last number over all replicas; None if Redis does not answer."""
        keys = [self._key(system, user, job_id) for job_id, _digest, _least in states]
        args = [str(int(self._ttl * 1000)), str(int(self._lag * 1000)), str(LOG_ENTRIES)]
        for _job_id, digest, least in states:
            args += [digest, str(least)]

        async def run(client: coredis.Redis[bytes]) -> Any:
            return await self._store.script(client, _NUMBER)(keys=keys, args=args)

        try:
            reply = script_result(await self._store.call("events", run))
        except SharedUnavailable:
            return None
        return [(int(seq), int(top)) for seq, top in reply]

    async def top(self, system: str, user: str, job_id: str) -> int:
        """The job's last number over all replicas; 0 if none, or Redis does not answer."""
        key = self._key(system, user, job_id)
        try:
            last = await self._store.call("events", lambda c: c.lindex(key, -1))
        except SharedUnavailable:
            return 0
        return int(json.loads(last)["seq"]) if last is not None else 0
