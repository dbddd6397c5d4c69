"""Single flight: concurrent calls with one key run one fetch, and all get its outcome."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import attrs
import trio

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@attrs.define(eq=False)
class _Flight(Generic[V]):
    done: trio.Event = attrs.Factory(trio.Event)
    value: tuple[V] | None = None
    error: Exception | None = None


class SingleFlight(Generic[K, V]):
    """Calls of `run` with one key while a fetch for it is in flight wait for that fetch.

    The first caller fetches in its own task (under its own deadline and cancellation);
    the others wait for it within theirs. A failure reaches every waiter (each gets a copy
    of the error) and is not kept: the next call fetches again. If the fetching caller is
    cancelled (its client left), one of the waiters fetches instead.
    """

    def __init__(self) -> None:
        self._flights: dict[K, _Flight[V]] = {}

    def __len__(self) -> int:
        """Fetches in flight."""
        return len(self._flights)

    async def run(self, key: K, fetch: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """`(value, joined)`: the value of `fetch()`, run now or by a concurrent caller (`joined`).

        Raises what `fetch` raises (a caller that waited for a failed fetch gets a copy of its error).
        """
        while True:
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(key, fetch), False
            await flight.done.wait()
            if flight.error is not None:
                raise copy.copy(flight.error) from None
            if flight.value is not None:
                return flight.value[0], True
            # The fetching caller was cancelled: go round, and maybe fetch.

    async def _lead(self, key: K, fetch: Callable[[], Awaitable[V]]) -> V:
        flight: _Flight[V] = _Flight()
        self._flights[key] = flight
        try:
            value = await fetch()
            flight.value = (value,)
            return value
        except Exception as exc:
            flight.error = exc
            raise
        finally:
            del self._flights[key]
            flight.done.set()


__all__ = ["SingleFlight"]
