"""Brief reuse of slow-changing answers: kept a configured time, bounded, one fetch per key at a time.

A `TtlCache` keeps each answer for a short, configured time, holds at most a
configured number of them, and lets concurrent misses of one key share one fetch
(single flight): the first caller fetches in its own task, the others wait for it
within their own deadlines. Failures are never kept: the callers waiting on a failed
fetch get the error, the next caller tries again. If the fetching caller is cancelled
(its client left), one of the waiting callers fetches instead. `peek` and `put` serve a
caller that fetches many keys at once itself.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Literal, TypeVar

import trio

from ._flight import SingleFlight

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Lookup = Literal["hit", "miss", "joined"]
"""How a `get` was answered: from the cache, by fetching, or by joining a fetch in flight."""


class TtlCache(Generic[K, V]):
    """Values kept `ttl` seconds (0: nothing is kept, every `get` fetches), at most `max_entries`."""

    def __init__(
        self,
        *,
        ttl: float,
        max_entries: int,
        on_lookup: Callable[[Lookup], None] | None = None,
    ) -> None:
        """`on_lookup` is told how each `get` was answered (for metrics)."""
        self.ttl = ttl
        self.max_entries = max_entries
        self._on_lookup = on_lookup
        # Insertion order is expiry order (one ttl for all): the oldest entry is first.
        self._values: collections.OrderedDict[K, tuple[float, V]] = collections.OrderedDict()
        self._flights: SingleFlight[K, V] = SingleFlight()

    def __len__(self) -> int:
        return len(self._values)

    async def get(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        """The value of `key`: kept, fetched by a concurrent caller, or fetched now with `fetch()`.

        Raises what `fetch` raises (a caller that waited for a failed fetch gets a copy of its error).
        """
        if self.ttl <= 0:
            return await fetch()
        kept = self.peek(key)
        if kept is not None:
            self._count("hit")
            await trio.lowlevel.checkpoint()
            return kept[0]

        async def fetch_and_keep() -> V:
            self._count("miss")
            value = await fetch()
            self.put(key, value)
            return value

        value, joined = await self._flights.run(key, fetch_and_keep)
        if joined:
            self._count("joined")
        return value

    def peek(self, key: K) -> tuple[V] | None:
        """`(value,)` if `key` is kept and not expired, else None (nothing fetched, nothing counted)."""
        entry = self._values.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires <= trio.current_time():
            del self._values[key]
            return None
        return (value,)

    def put(self, key: K, value: V) -> None:
        """Keep `value` for `key` for `ttl` seconds (nothing if `ttl` is 0); the oldest and the
        expired entries go first."""
        now = trio.current_time()
        self._values.pop(key, None)
        self._values[key] = (now + self.ttl, value)
        while self._values:
            oldest, (expires, _) = next(iter(self._values.items()))
            if expires > now and len(self._values) <= self.max_entries:
                break
            del self._values[oldest]

    def _count(self, how: Lookup) -> None:
        if self._on_lookup is not None:
            self._on_lookup(how)


__all__ = ["Lookup", "TtlCache"]
