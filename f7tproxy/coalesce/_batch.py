"""Batches: lookups of several ids that arrive together are answered by one fetch of them all."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, Literal, TypeVar

import attrs
import trio

R = TypeVar("R")

BatchLookup = Literal["ran", "joined"]
"""How a lookup was answered: by the fetch it ran, or by joining another's batch."""


@attrs.define(eq=False)
class _Batch(Generic[R]):
    ids: list[str]
    full: trio.Event = attrs.Factory(trio.Event)
    done: trio.Event = attrs.Factory(trio.Event)
    result: Mapping[str, R] | None = None
    error: Exception | None = None


class Batcher(Generic[R]):
    """Lookups under one key (a user) arriving within `window` seconds of the first one, at most
    `max_ids` ids, are answered by one `fetch(ids)`.

    The first lookup leads: it waits out the window (or until the batch is full) in its own
    task, under its own deadline, then fetches for every id in the batch. The others wait
    for it within theirs. A failed fetch fails the whole batch (each waiter gets a copy of
    the error); if the leader is cancelled, the waiters go round and one of them leads.
    """

    def __init__(
        self, *, window: float, max_ids: int, on_lookup: Callable[[BatchLookup], None] | None = None
    ) -> None:
        self.window = window
        self.max_ids = max_ids
        self._on_lookup = on_lookup
        self._open: dict[Hashable, _Batch[R]] = {}

    async def lookup(self, key: Hashable, item: str, fetch: Callable[[tuple[str, ...]], Awaitable[Mapping[str, R]]]) -> R:
        """`item`'s answer: `fetch(ids)[item]`, fetched by this call or by a batch it joined.

        `fetch` must answer every id it is given. Raises what `fetch` raises.
        """
        while True:
            batch = self._open.get(key)
            if batch is None:
                return await self._lead(key, item, fetch)
            if item not in batch.ids:
                batch.ids.append(item)
                if len(batch.ids) >= self.max_ids:
                    batch.full.set()
                    del self._open[key]  # full: the next lookup starts a batch of its own
            await batch.done.wait()
            if batch.error is not None:
                raise copy.copy(batch.error) from None
            if batch.result is not None:
                self._count("joined")
                return batch.result[item]
            # The leader was cancelled: go round, and maybe lead.

    async def _lead(self, key: Hashable, item: str, fetch: Callable[[tuple[str, ...]], Awaitable[Mapping[str, R]]]) -> R:
        batch: _Batch[R] = _Batch([item])
        self._open[key] = batch
        try:
            if self.max_ids > 1:
                with trio.move_on_after(self.window):
                    await batch.full.wait()
            self._close(key, batch)
            result = await fetch(tuple(batch.ids))
            batch.result = result
            self._count("ran")
            return result[item]
        except Exception as exc:
            batch.error = exc
            raise
        finally:
            self._close(key, batch)
            batch.done.set()

    def _close(self, key: Hashable, batch: _Batch[R]) -> None:
        if self._open.get(key) is batch:
            del self._open[key]

    def _count(self, how: BatchLookup) -> None:
        if self._on_lookup is not None:
            self._on_lookup(how)


__all__ = ["BatchLookup", "Batcher"]
