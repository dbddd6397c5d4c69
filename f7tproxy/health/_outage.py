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

import contextlib
import math
from collections.abc import Iterable, Iterator

import attrs
import trio

from ..errors import ServiceUnavailable
from ._result import Service


@attrs.define(eq=False)
class _Watch:
    scope: trio.CancelScope
    message: str | None = None
    retry_after: float = 1.0


class Outages:
    """The requests in flight per (system, service), to cancel when that service turns unhealthy."""

    def __init__(self) -> None:
        self._watching: dict[tuple[str, Service], set[_Watch]] = {}

    @contextlib.contextmanager
    def watch(self, system: str, services: Iterable[Service]) -> Iterator[None]:
        """Run the block until it ends or one of `services` of `system` turns unhealthy.

        Raises ServiceUnavailable (with the probe's message and Retry-After) when an
        outage cancelled the block.
        """
        watch = _Watch(trio.CancelScope())
        keys = [(system, service) for service in services]
        for key in keys:
            self._watching.setdefault(key, set()).add(watch)
        try:
            with watch.scope:
                yield
        finally:
            for key in keys:
                watching = self._watching.get(key)
                if watching is not None:
                    watching.discard(watch)
                    if not watching:
                        del self._watching[key]
        if watch.scope.cancelled_caught and watch.message is not None:
            raise ServiceUnavailable(watch.message, retry_after=max(1, math.ceil(watch.retry_after)))

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
