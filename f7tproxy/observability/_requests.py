"""Request statistics for the admin socket: counts, rates and latency percentiles per endpoint.

Fed by the HTTP middleware (`f7tproxy.api._observe`), one observation per answered request.

Kept in process and small: per endpoint a window of recent latencies (for
percentiles), and for the whole API one bucket per second over the last
minute (for the dashboard's sparklines). Prometheus metrics are a separate,
cumulative view (`/metrics`, `f7tproxy.observability.Metrics`).
"""

from __future__ import annotations

import collections
import datetime
import math

import attrs

from ._metrics import method_label

HISTORY = 60
"""Seconds of per-second history (rates and the sparklines)."""
LATENCY_SAMPLES = 1000
"""Latencies kept per endpoint for its percentiles."""
RECENT_ERRORS = 50
MAX_ENDPOINTS = 500
"""(endpoint, method) entries kept; new endpoints beyond them are counted as `OVERFLOW` (one entry per method)."""
OVERFLOW = "<other>"


def is_error(status: int) -> bool:
    """Responses the operator should see: server errors, unreachable cluster (424), timeouts (408)."""
    return status >= 500 or status in (408, 424)


@attrs.frozen
class EndpointStatistics:
    endpoint: str
    method: str
    count: int
    errors: int
    rate: float
    """Requests per second over the last minute."""
    p50: float | None
    p90: float | None
    p99: float | None
    """Latency percentiles in seconds over the last `LATENCY_SAMPLES` requests."""
    commands: int = 0
    """Remote commands its requests ran, all told (`commands / count`: commands per request)."""


@attrs.frozen
class RequestError:
    at: datetime.datetime
    method: str
    path: str
    status: int
    message: str | None
    user: str | None


@attrs.frozen
class RequestStatistics:
    total: int
    rate: tuple[int, ...]
    """Requests in each of the last `HISTORY` whole seconds, oldest first (the current one last)."""
    latency: tuple[float | None, ...]
    """Mean latency (s) in each of those seconds; None where there were no requests."""
    endpoints: tuple[EndpointStatistics, ...]
    errors: tuple[RequestError, ...]
    """Newest last."""


@attrs.define
class _Endpoint:
    count: int = 0
    errors: int = 0
    commands: int = 0
    latencies: collections.deque[float] = attrs.Factory(lambda: collections.deque(maxlen=LATENCY_SAMPLES))
    times: collections.deque[float] = attrs.Factory(collections.deque)
    """Arrival times within the last `HISTORY` seconds."""


def _percentile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class RequestStats:
    """Collects one observation per finished request; `statistics(now)` gives a frozen snapshot.

    Times are trio clock seconds (`trio.current_time()`), passed in by the caller.
    """

    def __init__(self) -> None:
        self._endpoints: dict[tuple[str, str], _Endpoint] = {}
        self._seconds: collections.deque[tuple[int, int, float]] = collections.deque()
        """(whole second, requests, summed latency) for the last HISTORY seconds."""
        self._errors: collections.deque[RequestError] = collections.deque(maxlen=RECENT_ERRORS)
        self._total = 0

    def observe(
        self,
        endpoint: str,
        method: str,
        status: int,
        duration: float,
        *,
        now: float,
        path: str = "",
        message: str | None = None,
        user: str | None = None,
        commands: int = 0,
    ) -> None:
        """Record one finished request, which ran `commands` remote commands (never raises).

        `endpoint` should be a route template; `method` is kept through `method_label`
        (a non-standard method is ``other``), and past `MAX_ENDPOINTS` entries new
        endpoints are counted as `OVERFLOW`: what clients send never grows the table.
        """
        self._total += 1
        method = method_label(method)
        key = (endpoint, method)
        ep = self._endpoints.get(key)
        if ep is None:  # a new endpoint (a new record made only then, not on every call)
            if len(self._endpoints) >= MAX_ENDPOINTS:
                key = (OVERFLOW, method)
            ep = self._endpoints.setdefault(key, _Endpoint())
        ep.count += 1
        ep.commands += commands
        ep.latencies.append(duration)
        ep.times.append(now)
        self._expire(ep, now)
        second = int(now)
        if self._seconds and self._seconds[-1][0] == second:
            _, n, total = self._seconds[-1]
            self._seconds[-1] = (second, n + 1, total + duration)
        else:
            self._seconds.append((second, 1, duration))
        while self._seconds and self._seconds[0][0] <= second - HISTORY:
            self._seconds.popleft()
        if is_error(status):
            ep.errors += 1
            self._errors.append(RequestError(
                datetime.datetime.now(datetime.UTC), method, path or endpoint, status, message, user
            ))

    @staticmethod
    def _expire(ep: _Endpoint, now: float) -> None:
        while ep.times and ep.times[0] <= now - HISTORY:
            ep.times.popleft()

    def statistics(self, now: float) -> RequestStatistics:
        """A frozen snapshot as of `now`."""
        second = int(now)
        by_second = {s: (n, total) for s, n, total in self._seconds}
        rate = []
        latency: list[float | None] = []
        for s in range(second - HISTORY + 1, second + 1):
            n, total = by_second.get(s, (0, 0.0))
            rate.append(n)
            latency.append(total / n if n else None)
        endpoints = []
        for (endpoint, method), ep in sorted(self._endpoints.items()):
            self._expire(ep, now)
            ordered = sorted(ep.latencies)
            endpoints.append(EndpointStatistics(
                endpoint, method, ep.count, ep.errors, len(ep.times) / HISTORY,
                _percentile(ordered, 0.5), _percentile(ordered, 0.9), _percentile(ordered, 0.99), ep.commands,
            ))
        return RequestStatistics(self._total, tuple(rate), tuple(latency), tuple(endpoints), tuple(self._errors))
