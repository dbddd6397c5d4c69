"""Prometheus metrics: one registry per process, written through well-named methods.

Other parts never touch prometheus_client: they call `Metrics` methods (events) or
hand it a snapshot function (the pool's gauges, read at scrape time from frozen
values, never from live state). Label values come from small fixed sets: the route
template (one value for every unmatched path), never the raw path; the method, with
every non-standard one as ``other``; never the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import attrs
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .._version import __version__

# `*_created` series are for OpenMetrics; in the Prometheus text format they are only
# noise (one extra series per label set), so the process turns them off.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Request latencies: SSH round trips are tens of milliseconds, scheduler and transfer
# calls can take many seconds.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_PROBE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

TOKEN_FAILURE_REASONS = frozenset(
    {"missing", "malformed", "signature", "unknown_kid", "expired", "not_yet_valid",
     "issuer", "audience", "claims", "algorithm", "username", "refused_user", "jwks_unavailable", "forbidden",
     "authz_unavailable", "other"}
)  # fmt: skip
"""Reasons `token_failure` counts; anything else is counted as "other" (bounded cardinality)."""

SSH_FAILURE_REASONS = frozenset(
    {"connect", "timeout", "host_key", "auth", "credentials", "channel", "disconnect", "other"}
)
"""Reasons `ssh_failure` counts; anything else is counted as "other"."""

CACHE_KINDS = frozenset({"nodes", "partitions", "reservations", "userinfo"})
"""Kinds `cache_lookup` counts; anything else is counted as "other"."""

UNMATCHED = "<unmatched>"
"""Endpoint label of requests that matched no route (404, 405)."""

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
"""Methods counted under their own name; any other method string is counted as `OTHER_METHOD`."""
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    """`method` if it is a standard HTTP method, else ``other``.

    The client chooses the method string, unauthenticated: as a label or a key it
    would let anyone grow /metrics and the request statistics without bound.
    """
    return method if method in HTTP_METHODS else OTHER_METHOD


@attrs.frozen
class PoolGauges:
    """One system's SSH pool at one instant, as the pool's snapshot function reports it."""

    system: str
    connections: int
    """Open SSH connections (all users)."""
    slots_in_use: int
    """Channels leased right now."""
    waiters: int
    """Requests waiting for a channel."""
    circuit_open: bool = False
    """The system's circuit breaker refuses requests (open, or half-open with its trial under way)."""


class _PoolCollector(Collector):
    def __init__(self) -> None:
        self.source: Callable[[], Iterable[PoolGauges]] | None = None

    def collect(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "f7tproxy_ssh_connections", "Open SSH connections to the system.", labels=["system"]
        )
        in_use = GaugeMetricFamily(
            "f7tproxy_ssh_slots_in_use", "SSH channels leased to requests right now.", labels=["system"]
        )
        waiters = GaugeMetricFamily(
            "f7tproxy_ssh_lease_waiters", "Requests waiting for an SSH channel.", labels=["system"]
        )
        circuit = GaugeMetricFamily(
            "f7tproxy_circuit_open", "1 while the system's circuit breaker is not closed (requests fail fast).",
            labels=["system"],
        )
        for pool in self.source() if self.source is not None else ():
            connections.add_metric([pool.system], pool.connections)
            in_use.add_metric([pool.system], pool.slots_in_use)
            waiters.add_metric([pool.system], pool.waiters)
            circuit.add_metric([pool.system], 1 if pool.circuit_open else 0)
        yield from (connections, in_use, waiters, circuit)


class _StagingCollector(Collector):
    def __init__(self) -> None:
        self.source: Callable[[], Iterable[tuple[str, int]]] | None = None

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "f7tproxy_staging_uploads_waiting",
            "Staged uploads whose staging job waits for the client's file.", labels=["system"],
        )  # fmt: skip
        for system, count in self.source() if self.source is not None else ():
            waiting.add_metric([system], count)
        yield waiting


class Metrics:
    """The process's metrics (its own registry, so tests can make as many as they like)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=r)
        Gauge("f7tproxy_build_info", "f7tproxy's version.", ["version"], registry=r).labels(__version__).set(1)

        self._requests = Counter(
            "f7tproxy_http_requests", "HTTP requests answered, by route template, method and status.",
            ["endpoint", "method", "status"], registry=r,
        )  # fmt: skip
        self._latency = Histogram(
            "f7tproxy_http_request_duration_seconds", "Time from request to the end of the response.",
            ["endpoint", "method"], buckets=_HTTP_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge("f7tproxy_http_requests_in_flight", "HTTP requests being served.", registry=r)
        self._rate_limited = Counter(
            "f7tproxy_rate_limited", "Requests refused with 429, by the limit that refused them.",
            ["scope"], registry=r,
        )  # fmt: skip
        self._pool_busy = Counter(
            "f7tproxy_pool_busy",
            "Requests answered 429 because their user's SSH channels stayed busy past the lease wait.",
            ["system"], registry=r,
        )  # fmt: skip
        self._cache = Counter(
            "f7tproxy_cache_lookups",
            "Lookups of cached slow-changing answers, by kind and how they were answered "
            "(hit: kept; joined: shared a fetch in flight; miss: fetched from the cluster).",
            ["system", "kind", "result"], registry=r,
        )  # fmt: skip
        self._pool = _PoolCollector()
        r.register(self._pool)
        self._staging = _StagingCollector()
        r.register(self._staging)
        self._reconnects = Counter(
            "f7tproxy_ssh_reconnects", "SSH connections re-opened after one was lost.", ["system"], registry=r
        )
        self._ssh_failures = Counter(
            "f7tproxy_ssh_failures", "Failed SSH connects, logins and channel opens.",
            ["system", "reason"], registry=r,
        )  # fmt: skip
        self._runners = Counter(
            "f7tproxy_ssh_runner_starts",
            "Persistent command runners started on SSH channels (restart: one replaced a runner that died).",
            ["system", "kind"], registry=r,
        )  # fmt: skip
        self._runner_fallbacks = Counter(
            "f7tproxy_ssh_runner_fallbacks",
            "SSH connections that could not start a runner and run a channel per command instead.",
            ["system"], registry=r,
        )  # fmt: skip
        self._fast_failed = Counter(
            "f7tproxy_fast_failed_requests",
            "Requests answered 503 at once: the system's circuit breaker was open or the service unhealthy.",
            ["system", "service"], registry=r,
        )  # fmt: skip
        self._health_up = Gauge(
            "f7tproxy_health_up", "Last health probe result (1 healthy, 0 unhealthy).",
            ["system", "service"], registry=r,
        )  # fmt: skip
        self._health_when = Gauge(
            "f7tproxy_health_last_probe_timestamp_seconds", "When the last probe finished (Unix time).",
            ["system", "service"], registry=r,
        )  # fmt: skip
        self._health_latency = Histogram(
            "f7tproxy_health_probe_duration_seconds", "Health probe durations.",
            ["system", "service"], buckets=_PROBE_BUCKETS, registry=r,
        )  # fmt: skip
        self._token_failures = Counter(
            "f7tproxy_token_failures", "Requests refused by token validation or authorization, by reason.",
            ["reason"], registry=r,
        )  # fmt: skip

    # -- HTTP (called by the API's middleware and rate limiter)

    def observe_request(self, endpoint: str | None, method: str, status: int, duration: float) -> None:
        """Count one answered request; `endpoint` is the route template (None: no route matched).

        `method` is counted through `method_label`, so any non-standard method is ``other``.
        """
        endpoint = endpoint or UNMATCHED
        method = method_label(method)
        self._requests.labels(endpoint, method, str(status)).inc()
        self._latency.labels(endpoint, method).observe(duration)

    def rate_limited(self, scope: str) -> None:
        """Count a 429; `scope` is the limit that refused (user, system, user_system, client)."""
        self._rate_limited.labels(scope).inc()

    # -- SSH pool

    def set_pool_source(self, snapshot: Callable[[], Iterable[PoolGauges]] | None) -> None:
        """Read the pool gauges from `snapshot()` at each scrape (it must be cheap and not block)."""
        self._pool.source = snapshot

    def pool_busy(self, system: str) -> None:
        """Count a request refused (429) after waiting `lease_timeout` for one of its user's channels."""
        self._pool_busy.labels(system).inc()

    def ssh_reconnect(self, system: str) -> None:
        """Count a connection re-opened after one was lost (keepalive failure, reset)."""
        self._reconnects.labels(system).inc()

    def ssh_failure(self, system: str, reason: str) -> None:
        """Count a failed connect, login or channel open; `reason` from `SSH_FAILURE_REASONS`."""
        self._ssh_failures.labels(system, reason if reason in SSH_FAILURE_REASONS else "other").inc()

    def ssh_runner_started(self, system: str, *, restart: bool) -> None:
        """Count a runner started on an SSH channel (`restart`: it replaces one that died)."""
        self._runners.labels(system, "restart" if restart else "start").inc()

    def ssh_runner_fallback(self, system: str) -> None:
        """Count a connection that could not start a runner (it runs a channel per command)."""
        self._runner_fallbacks.labels(system).inc()

    # -- staging stores

    def set_staging_source(self, snapshot: Callable[[], Iterable[tuple[str, int]]] | None) -> None:
        """Read `(system, uploads waiting)` pairs from `snapshot()` at each scrape (cheap, not blocking)."""
        self._staging.source = snapshot

    # -- caches of slow-changing answers

    def cache_lookup(self, system: str, kind: str, result: str) -> None:
        """Count one cache lookup; `kind` from `CACHE_KINDS`, `result` hit, joined or miss."""
        kind = kind if kind in CACHE_KINDS else "other"
        self._cache.labels(system, kind, result if result in ("hit", "joined", "miss") else "other").inc()

    def fast_failed(self, system: str, service: str, count: int = 1) -> None:
        """Count requests refused at once (breaker open, or `service` last seen unhealthy), or
        cancelled in flight when it turned unhealthy."""
        self._fast_failed.labels(system, service).inc(count)

    # -- health checker

    def health_probe(self, system: str, service: str, *, healthy: bool, duration: float, at: float) -> None:
        """Record one probe: its result, how long it took and when it finished (Unix time)."""
        self._health_up.labels(system, service).set(1 if healthy else 0)
        self._health_when.labels(system, service).set(at)
        self._health_latency.labels(system, service).observe(duration)

    # -- auth

    def token_failure(self, reason: str) -> None:
        """Count a refused token or authorization; `reason` from `TOKEN_FAILURE_REASONS`."""
        self._token_failures.labels(reason if reason in TOKEN_FAILURE_REASONS else "other").inc()

    # -- exposition

    def render(self) -> bytes:
        """All metrics in Prometheus text format (`content_type`)."""
        return generate_latest(self.registry)
