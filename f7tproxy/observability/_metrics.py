"""Prometheus metrics: one registry per process, written through well-named methods.

Other parts never touch prometheus_client: they call `Metrics` methods (events) or
hand it a snapshot function (the pool's gauges, read at scrape time from frozen
values, never from live state). Label values come from small fixed sets: the route
template (one value for every unmatched path), never the raw path; the method, with
every non-standard one as ``other``; never the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

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

CACHE_KINDS = frozenset({"nodes", "partitions", "reservations", "userinfo", "names"})
"""Kinds `cache_lookup` counts; anything else is counted as "other"."""

_WATCHER_PROGRAMS = frozenset({"squeue", "sacct", "qstat", "dd"})

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


@attrs.frozen
class SharingStatistics:
    """One system's answers given without a remote command of their own, and its 429s from full pools."""

    reads_ran: int
    """Shareable reads (ls, stat, job lookups...) that ran their own command."""
    reads_joined: int
    """Reads answered by an identical read in flight (coalesced)."""
    lookups_ran: int
    """Single-job lookups that led a batch (one squeue/sacct for the batch)."""
    lookups_joined: int
    """Single-job lookups answered by another lookup's batch."""
    cache_hits: int
    """Nodes, partitions, reservations and userinfo answered from the cache."""
    cache_joined: int
    """Those answered by a fetch already in flight."""
    cache_misses: int
    """Those fetched from the cluster."""
    pool_busy: int
    """Requests answered 429: their user's SSH channels stayed busy past the lease wait."""


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


@attrs.frozen
class StreamGauges:
    """One system's event streams at one instant, as the job watchers' snapshot function reports them."""

    system: str
    job_streams: int
    """Open `jobs/{id}/events` streams (all users)."""
    output_streams: int
    """Open `jobs/{id}/output` streams (all users)."""
    watchers: int
    """Job watchers running (one per user with open streams)."""


class _StreamCollector(Collector):
    def __init__(self) -> None:
        self.source: Callable[[], Iterable[StreamGauges]] | None = None

    def collect(self) -> Iterator[Metric]:
        streams = GaugeMetricFamily(
            "f7tproxy_event_streams", "Open Server-Sent Event streams, by kind (job, output).",
            labels=["system", "kind"],
        )  # fmt: skip
        watchers = GaugeMetricFamily(
            "f7tproxy_job_watchers", "Job watchers running (one per user with open streams).", labels=["system"]
        )
        for gauges in self.source() if self.source is not None else ():
            streams.add_metric([gauges.system, "job"], gauges.job_streams)
            streams.add_metric([gauges.system, "output"], gauges.output_streams)
            watchers.add_metric([gauges.system], gauges.watchers)
        yield from (streams, watchers)


class _InFlightCollector(Collector):
    """HTTP requests being served: a plain count (two updates per request), read at scrape time."""

    def __init__(self) -> None:
        self.count = 0

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("f7tproxy_http_requests_in_flight", "HTTP requests being served.", value=self.count)


class Metrics:
    """The process's metrics (its own registry, so tests can make as many as they like)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
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
        self._commands = Counter(
            "f7tproxy_http_remote_commands",
            "Remote commands run for answered requests, by route template (divided by "
            "f7tproxy_http_requests_total: remote commands per request).",
            ["endpoint"], registry=r,
        )  # fmt: skip
        self._in_flight = _InFlightCollector()
        r.register(self._in_flight)
        self._rate_limited = Counter(
            "f7tproxy_rate_limited", "Requests refused with 429, by the limit that refused them.",
            ["scope"], registry=r,
        )  # fmt: skip
        self._shared_failures = Counter(
            "f7tproxy_shared_state_failures",
            "Calls to the shared state (Redis) that failed or passed their deadline, by what they were for; "
            "rate limits, submits and job event numbers then fall back to this process's own.",
            ["what"], registry=r,
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
        self._shared_reads = Counter(
            "f7tproxy_shared_reads",
            "Reads (ls, stat, view, job lookups...) by how they were answered (ran: by their own remote "
            "command; joined: by an identical read of the same user already in flight since their last write).",
            ["system", "result"], registry=r,
        )  # fmt: skip
        self._batched = Counter(
            "f7tproxy_batched_lookups",
            "Lookups of single jobs (kind job or metadata) by how they were answered (ran: led a batch "
            "and ran its squeue/sacct; joined: answered by another lookup's batch).",
            ["system", "kind", "result"], registry=r,
        )  # fmt: skip
        self._pool = _PoolCollector()
        r.register(self._pool)
        self._staging = _StagingCollector()
        r.register(self._staging)
        self._streams = _StreamCollector()
        r.register(self._streams)
        self._watcher_commands = Counter(
            "f7tproxy_watcher_commands", "Remote commands run by the job watchers, by program (squeue, sacct, dd...).",
            ["system", "program"], registry=r,
        )  # fmt: skip
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
        self._token_cache = Counter(
            "f7tproxy_token_cache_lookups",
            "Valid tokens, by how they were validated (hit: remembered from an earlier request until its exp; "
            "miss: signature and claims checked).",
            ["result"], registry=r,
        )  # fmt: skip
        self._token_failures = Counter(
            "f7tproxy_token_failures", "Requests refused by token validation or authorization, by reason.",
            ["reason"], registry=r,
        )  # fmt: skip

    # -- HTTP (called by the API's middleware and rate limiter)

    def request_started(self) -> None:
        """One more HTTP request being served (the middleware, on the event loop's thread)."""
        self._in_flight.count += 1

    def request_ended(self) -> None:
        """One HTTP request fewer being served."""
        self._in_flight.count -= 1

    def observe_request(
        self, endpoint: str | None, method: str, status: int, duration: float, *, commands: int = 0
    ) -> None:
        """Count one answered request, which ran `commands` remote commands; `endpoint` is the route
        template (None: no route matched).

        `method` is counted through `method_label`, so any non-standard method is ``other``.
        """
        endpoint = endpoint or UNMATCHED
        method = method_label(method)
        self._labelled(self._requests, endpoint, method, str(status)).inc()
        self._labelled(self._latency, endpoint, method).observe(duration)
        if commands:
            self._labelled(self._commands, endpoint).inc(commands)

    def rate_limited(self, scope: str) -> None:
        """Count a 429; `scope` is the limit that refused (user, system, user_system, client)."""
        self._rate_limited.labels(scope).inc()

    def shared_state_failed(self, what: str) -> None:
        """Count a failed or late call to the shared state; `what`: rate_limit, submit, lock, events..."""
        self._shared_failures.labels(what).inc()

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

    # -- event streams

    def set_stream_source(self, snapshot: Callable[[], Iterable[StreamGauges]] | None) -> None:
        """Read the event-stream gauges from `snapshot()` at each scrape (cheap, not blocking)."""
        self._streams.source = snapshot

    def watcher_command(self, system: str, program: str) -> None:
        """Count one remote command a job watcher ran; `program` is its program's name (bounded set)."""
        self._watcher_commands.labels(system, program if program in _WATCHER_PROGRAMS else "other").inc()

    # -- caches of slow-changing answers

    def cache_lookup(self, system: str, kind: str, result: str) -> None:
        """Count one cache lookup; `kind` from `CACHE_KINDS`, `result` hit, joined or miss."""
        kind = kind if kind in CACHE_KINDS else "other"
        self._labelled(self._cache, system, kind, result if result in ("hit", "joined", "miss") else "other").inc()

    def shared_read(self, system: str, result: str) -> None:
        """Count one answered read, `result` ran (its own command) or joined (shared one in flight)."""
        self._labelled(self._shared_reads, system, result if result in ("ran", "joined") else "other").inc()

    def batched_lookup(self, system: str, kind: str, result: str) -> None:
        """Count one batched job lookup; `kind` job or metadata, `result` ran or joined."""
        kind = kind if kind in ("job", "metadata") else "other"
        self._labelled(self._batched, system, kind, result if result in ("ran", "joined") else "other").inc()

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

    def token_cache_lookup(self, result: str) -> None:
        """Count one valid token, `result` hit (from the cache of validated tokens) or miss."""
        self._labelled(self._token_cache, result if result in ("hit", "miss") else "other").inc()

    def _labelled(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept: prometheus_client checks and locks on every `labels` call,
        and the hot path (every request) asks for the same few children again and again. Only ever
        called with bounded label values, so the dictionary is as bounded as the metrics are."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def token_failure(self, reason: str) -> None:
        """Count a refused token or authorization; `reason` from `TOKEN_FAILURE_REASONS`."""
        self._token_failures.labels(reason if reason in TOKEN_FAILURE_REASONS else "other").inc()

    # -- what sharing saves (for the admin snapshot)

    def sharing(self, system: str) -> SharingStatistics:
        """How `system`'s requests were answered without a remote command of their own, so far."""

        def count(name: str, **labels: str) -> int:
            return int(self.registry.get_sample_value(f"f7tproxy_{name}_total", {"system": system, **labels}) or 0)

        cached = {how: sum(count("cache_lookups", kind=kind, result=how) for kind in CACHE_KINDS)
                  for how in ("hit", "joined", "miss")}  # fmt: skip
        batched = {how: sum(count("batched_lookups", kind=kind, result=how) for kind in ("job", "metadata"))
                   for how in ("ran", "joined")}  # fmt: skip
        return SharingStatistics(
            reads_ran=count("shared_reads", result="ran"), reads_joined=count("shared_reads", result="joined"),
            lookups_ran=batched["ran"], lookups_joined=batched["joined"],
            cache_hits=cached["hit"], cache_joined=cached["joined"], cache_misses=cached["miss"],
            pool_busy=count("pool_busy"),
        )  # fmt: skip

    def token_cache(self) -> tuple[int, int]:
        """Valid tokens so far: (served from the cache of validated tokens, checked in full)."""
        get = self.registry.get_sample_value
        name = "f7tproxy_token_cache_lookups_total"
        return int(get(name, {"result": "hit"}) or 0), int(get(name, {"result": "miss"}) or 0)

    # -- exposition

    def render(self) -> bytes:
        """All metrics in Prometheus text format (`content_type`)."""
        return generate_latest(self.registry)
