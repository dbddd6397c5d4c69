"""Recent-submit records in Redis: read-your-writes and Idempotency-Key replay over replicas.

    {prefix}recent:{system}:{user}   hash job_id -> the job as submitted (JSON), expires RECENT_TTL
                                     after the last submit; each record carries its own time
    {prefix}idem:{marker}            the job id an idempotency marker made (MARKER_TTL)
    {prefix}lock:{marker}            held while a submit with that marker runs (SET NX PX)

Every call has the store's deadline; on failure the caller keeps what this process knows
(the job service keeps its own records too), so a Redis outage costs cross-replica
visibility, never a request.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import trio

from ..errors import SharedUnavailable
from ._store import SharedStore

if TYPE_CHECKING:
    import coredis

_LOCK_POLL = 0.05
"""How often a submit waiting for another replica's submit with the same key looks again (s)."""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class SharedSubmits:
    """The `scheduler.SubmitLog` kept in Redis (see `JobService`)."""

    def __init__(self, store: SharedStore, *, recent_ttl: float, marker_ttl: float, lock_ttl: float) -> None:
        self._store = store
        self._recent_ttl = recent_ttl
        self._marker_ttl = marker_ttl
        self._lock_ttl = lock_ttl

    def _key(self, *parts: str) -> str:
        return self._store.prefix + ":".join(parts)

    async def remember(self, system: str, user: str, job_id: str, record: dict[str, Any]) -> None:
        key = self._key("recent", system, user)
        value = json.dumps(record)
        ttl = int(self._recent_ttl * 1000)

        async def run(c: coredis.Redis[bytes]) -> None:
            async with c.pipeline(transaction=True) as p:
                p.hset(key, {job_id: value})
                p.pexpire(key, ttl)

        try:
            await self._store.call("submit", run)
        except SharedUnavailable:
            pass

    async def recent(self, system: str, user: str) -> dict[str, dict[str, Any]]:
        key = self._key("recent", system, user)
        try:
            found = await self._store.call("read_your_writes", lambda c: c.hgetall(key))
        except SharedUnavailable:
            return {}
        return {k.decode(): json.loads(v) for k, v in found.items()}

    async def forget(self, system: str, user: str, job_ids: list[str]) -> None:
        if not job_ids:
            return
        key = self._key("recent", system, user)
        try:
            await self._store.call("read_your_writes", lambda c: c.hdel(key, job_ids))
        except SharedUnavailable:
            pass

    async def marked(self, marker: str) -> str | None:
        key = self._key("idem", marker)
        try:
            found = await self._store.call("idempotency", lambda c: c.get(key))
        except SharedUnavailable:
            return None
        return found.decode() if found is not None else None

    async def mark(self, marker: str, job_id: str) -> None:
        key = self._key("idem", marker)
        try:
            await self._store.call("idempotency", lambda c: c.set(key, job_id, px=int(self._marker_ttl * 1000)))
        except SharedUnavailable:
            pass

    @asynccontextmanager
    async def lock(self, marker: str) -> AsyncIterator[None]:
        """Hold the marker's lock over all replicas while a submit with it runs.

        Waits (polling) while another replica holds it, at most `lock_ttl` (then the holder
        is taken as dead: the lock expires by itself). Redis unavailable: proceeds unlocked
        (the process-local lock and the scheduler's marker search still apply).
        """
        from coredis.tokens import PureToken  # coredis loads only with shared state configured

        key = self._key("lock", marker)
        token = secrets.token_hex(8)
        ttl = int(self._lock_ttl * 1000)
        held = False
        with trio.move_on_after(self._lock_ttl):
            while True:
                try:
                    held = bool(await self._store.call("lock", lambda c: c.set(key, token, px=ttl, condition=PureToken.NX)))
                except SharedUnavailable:
                    break
                if held:
                    break
                await trio.sleep(_LOCK_POLL)
        try:
            yield
        finally:
            if held:
                with trio.CancelScope(shield=True):
                    try:
                        await self._store.call("lock", lambda c: c.eval(_RELEASE, keys=[key], args=[token]))
                    except SharedUnavailable:
                        pass  # it expires by itself
