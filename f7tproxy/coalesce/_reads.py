"""Identical concurrent reads of one user share one remote command, never across a write.

A portal polling `ops/ls` of one directory from fifty browser tabs should cost the
login node one `find`, not fifty. A read (same route, same parameters, same user,
same system) joins a read in flight only if that read started after the user's
last write on that system through f7tproxy: every mutating request bumps the
user's write epoch there at its start and again at its end, and a read joins only
a flight of the epoch it sees. So a read that starts after a write has started never
gets an answer fetched before that write started, and one that starts after a write
has ended never gets one fetched before it ended; reads with nothing between them
share. Nothing is kept once a flight ends: this is coalescing, not caching.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Literal

from ._flight import SingleFlight

ReadLookup = Literal["ran", "joined"]
"""How a read was answered: by its own remote command, or by joining one in flight."""


class SharedReads:
    """The process's shared reads and the users' write epochs, for every system."""

    def __init__(self, on_lookup: Callable[[str, ReadLookup], None] | None = None) -> None:
        """`on_lookup(system, how)` hears how each successful read was answered (for metrics)."""
        self._on_lookup = on_lookup
        self._flights: SingleFlight[tuple[str, str, int, Hashable], Any] = SingleFlight()
        # One counter for all users: an epoch never repeats, so an entry is only ever replaced.
        # One entry per (system, user) that wrote: as bounded as the users.
        self._counter = itertools.count(1)
        self._epochs: dict[tuple[str, str], int] = {}

    def wrote(self, system: str, user: str) -> None:
        """A mutating request of `user` on `system` starts or ends: later reads share no earlier flight."""
        self._epochs[(system, user)] = next(self._counter)

    def epoch(self, system: str, user: str) -> int:
        """`user`'s write epoch on `system` (0: no write seen since start)."""
        return self._epochs.get((system, user), 0)

    def in_flight(self) -> int:
        """Reads being fetched now."""
        return len(self._flights)

    async def read(self, system: str, user: str, key: Hashable, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """`fetch()`'s answer, or that of an identical read of `user` in flight since their last write.

        `key` names the read (route and parameters). Raises what `fetch` raises.
        """
        epoch = self.epoch(system, user)
        value, joined = await self._flights.run((system, user, epoch, key), fetch)
        if self._on_lookup is not None:
            self._on_lookup(system, "joined" if joined else "ran")
        return value


__all__ = ["ReadLookup", "SharedReads"]
