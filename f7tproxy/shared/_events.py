"""Job-event numbers in Redis: a job stream resumed with `Last-Event-ID` on any replica goes on
after that event, with no change sent twice and none left out.

    {prefix}ev:{system}:{user}:{job_id}   list of the job's numbered states, oldest first, each
                                          JSON {"seq": n, "at": ms on Redis's clock, "digest": ...,
                                          "job": the job as sent, JSON}; at most LOG_ENTRIES,
                                          expires EVENTS_TTL after its last write

Only watchers write it, for jobs that have listeners, and only when they see a change: one
script call numbers all the changes of one poll. A state another replica has numbered gets
that replica's number; a state this replica sees late (its poll lagged behind the other's)
gets the number it had, if the next state was numbered less than LAG ago; anything else is a
new change, numbered after the last one. A stream resumed after an id gets the changes
numbered since from this log, then goes on. Redis unreachable: the watcher numbers on (locally).
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

# KEYS: one log per job. ARGV: ttl ms, lag ms, entries kept, then per key: the state's digest,
# the least number it may get (one more than its watcher's last) and the job (JSON text).
# Replies {seq, top} per key.
_NUMBER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl, lag, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for k = 1, #KEYS do
  local digest, least, job = ARGV[1 + 3 * k], tonumber(ARGV[2 + 3 * k]), ARGV[3 + 3 * k]
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
    redis.call('RPUSH', KEYS[k], cjson.encode({seq = seq, at = now, digest = digest, job = job}))
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

    async def number(self, system: str, user: str, states: Sequence[tuple[str, str, int, str]]
                     ) -> list[tuple[int, int]] | None:  # fmt: skip
        """Numbers for new states of jobs, each `(job_id, digest, least, job as JSON)`: `(seq, top)`
        per state, `top` the job's last number over all replicas; None if Redis does not answer."""
        keys = [self._key(system, user, job_id) for job_id, *_ in states]
        args = [str(int(self._ttl * 1000)), str(int(self._lag * 1000)), str(LOG_ENTRIES)]
        for _job_id, digest, least, job in states:
            args += [digest, str(least), job]

        async def run(client: coredis.Redis[bytes]) -> Any:
            return await self._store.script(client, _NUMBER)(keys=keys, args=args)

        try:
            reply = script_result(await self._store.call("events", run))
        except SharedUnavailable:
            return None
        return [(int(seq), int(top)) for seq, top in reply]

    async def numbered(self, system: str, user: str, job_id: str) -> list[tuple[int, str]]:
        """The job's numbered states kept, `(seq, job as JSON)` oldest first; [] if none, or Redis
        does not answer."""
        key = self._key(system, user, job_id)
        try:
            raw = await self._store.call("events", lambda c: c.lrange(key, 0, -1))
        except SharedUnavailable:
            return []
        entries = [json.loads(r) for r in raw]
        return [(int(e["seq"]), str(e["job"])) for e in entries]
