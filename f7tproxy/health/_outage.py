"""Requests in flight on a service that turns unhealthy: cancelled and answered 503 at once.

The health gate refuses new requests to a service last seen unhealthy; a request
that started just before (its `squeue` now hangs on a stopped slurmctld, its
command on a login node that stopped answering) would otherwise wait out its
command's deadline. `Outages.watch` runs such a request's remote work in a cancel
scope registered under the services it uses; when the checker records one of them
unhealthy it cancels them (the lease kills their remote commands) and each raises
ServiceUnavailable with the probe's message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import AbstractContextManager
from types import TracebackType

import trio

from ..errors import ServiceUnavailable
from ._result import Service


class _Watch:
    """One request's watch: a cancel scope registered under the services it uses (a context
    manager object, not a generator: one is entered for every request that takes a lease)."""

    __slots__ = ("_watching", "_keys", "scope", "message", "retry_after")

    def __init__(self, watching: dict[tuple[str, Service], set[_Watch]], keys: list[tuple[str, Service]]) -> None:
        self._watching = watching
        self._keys = keys
        self.scope = trio.CancelScope()
        self.message: str | None = None
        self.retry_after = 1.0

    def __enter__(self) -> None:
        for key in self._keys:
            self._watching.setdefault(key, set()).add(self)
        self.scope.__enter__()

    def __exit__(self, etype: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        try:
            swallowed = self.scope.__exit__(etype, exc, tb)
        finally:
            for key in self._keys:
                watching = self._watching.get(key)
                if watching is not None:
                    watching.discard(self)
                    if not watching:
                        del self._watching[key]
        if self.scope.cancelled_caught and self.message is not None:
            raise ServiceUnavailable(self.message, retry_after=max(1, math.ceil(self.retry_after))) from None
        return swallowed


class Outages:
    """The requests in flight per (system, service), to cancel when that service turns unhealthy."""

    def __init__(self) -> None:
        self._watching: dict[tuple[str, Service], set[_Watch]] = {}

    def watch(self, system: str, services: Iterable[Service]) -> AbstractContextManager[None]:
        """Run the block until it ends or one of `services` of `system` turns unhealthy.

        Raises ServiceUnavailable (with the probe's message and Retry-After) when an
        outage cancelled the block.
        """
        return _Watch(self._watching, [(system, service) for service in services])

    def outage(self, system: str, service: Service, message: str, *, retry_after: float) -> int:
        """`service` of `system` is unhealthy: cancel the requests in flight on it. Returns how many."""
        watching = self._watching.pop((system, service), set())
        for watch in watching:
            if watch.message is None:
                watch.message, watch.retry_after = message, retry_after
                watch.scope.cancel()
        return len(watching)

    def in_flight(self, system: str, service: Service) -> int:
        """How many requests are watched on `service` of `system` now (tests, statistics)."""
        return len(self._watching.get((system, service), ()))
