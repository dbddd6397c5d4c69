"""What a running f7tproxy shares between its parts and its request handlers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from .auth import Auth, KeySource, OpenFgaAuthorizer
from .config import ClusterConfig, Config
from .events import JobWatchers
from .filesystem import OwnerNames
from .health import HealthChecker, Probe, ServiceHealth
from .observability import Metrics, PoolGauges, RequestStats, StreamGauges
from .ratelimit import RateLimiter
from .scheduler import MARKER_TTL, RECENT_TTL, SUBMIT_LOCK_TTL, JobService, Lookup, StatusCaches, job_services, status_caches
from .coalesce import SharedReads
from .shared import SharedEventNumbers, SharedRateLimiter, SharedStore, SharedSubmits
from .ssh import Connector, PoolSupervisor
from .transfer import Staging


@attrs.define
class Runtime:
    """The live parts of one f7tproxy process.

    Built by `Runtime.build` (the one place that wires the parts together, for
    `f7tproxy.server.serve` and the tests alike); request handlers reach it through
    `f7tproxy.api._context.runtime()` and never build parts themselves.
    """

    config: Config
    auth: Auth
    """Token validation and authorization; until its `run` has loaded keys, requests get 503."""
    metrics: Metrics
    """The process's Prometheus metrics; parts report to it through its methods."""
    rate_limiter: RateLimiter | SharedRateLimiter
    """Token buckets per user, system and client (`f7tproxy.api.enforce_rate_limit`); in Redis
    with `shared_state`."""
    pool: PoolSupervisor
    """SSH leases to every cluster: `async with runtime.pool.lease(system, user, token) as ssh:`;
    until its `run` has started, leases get 503."""
    health: HealthChecker
    """Probe results, and the gate: `runtime.health.gate(system, "scheduler")`, `gate_path(system, path)`."""
    schedulers: dict[str, JobService]
    """Each system's scheduler backend (with idempotent submit and read-your-writes), by name."""
    caches: dict[str, StatusCaches]
    """Each system's brief caches of nodes, partitions, reservations and user information, by name."""
    names: dict[str, OwnerNames]
    """Each system's kept owner and group names of files (`ops/ls`), by name."""
    staging: dict[str, Staging]
    """Each system's S3 staging store (systems without `staging` have none), by name."""
    reads: SharedReads
    """Identical concurrent reads of a user sharing one remote command, and the users' write epochs."""
    events: JobWatchers
    """The job watchers behind the event streams (one per system and user with open streams); with
    `shared_state`, the jobs' changes are numbered alike on every replica (Last-Event-ID)."""
    shared: SharedStore | None = None
    """The Redis client of `shared_state` (None without it); the caller starts it."""
    requests: RequestStats = attrs.field(factory=RequestStats)
    """Per-endpoint request counts, rates, latencies and recent errors, for the admin socket."""
    draining: bool = False
    """Set on SIGTERM: liveness answers 503 while in-flight and new requests are still served."""
    started_at: float = attrs.field(factory=time.time)
    """Wall-clock start time (seconds since the epoch)."""

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        metrics: Metrics | None = None,
        connectors: Mapping[str, Connector] | None = None,
        key_source: KeySource | None = None,
        authorizer: OpenFgaAuthorizer | None = None,
        probes: Mapping[str, Sequence[Probe]] | None = None,
    ) -> Runtime:
        """Every part of a process serving `config`, each wired to the one `metrics`.

        The keyword arguments other than `metrics` replace parts' real ends (tests):
        `connectors` some clusters' SSH connectors, `key_source` the signing keys,
        `authorizer` the OpenFGA client, `probes` the health probes.
        Nothing is started: the caller starts `pool`, `auth`, `health`, `events`, each staging store and `shared`.
        Raises ConfigError if a cluster's SSH credentials cannot be used.
        """
        metrics = metrics or Metrics()
        pool = PoolSupervisor(config.clusters, connectors=connectors, metrics=metrics)
        local = RateLimiter(config.rate_limit)
        limiter: RateLimiter | SharedRateLimiter = local
        shared = submits = None
        if config.shared_state.redis is not None:
            shared = SharedStore(config.shared_state.redis, metrics)
            limiter = SharedRateLimiter(local, shared)
            submits = SharedSubmits(shared, recent_ttl=RECENT_TTL, marker_ttl=MARKER_TTL, lock_ttl=SUBMIT_LOCK_TTL)
        schedulers = job_services(config.clusters, metrics.batched_lookup, shared=submits)
        numbers = SharedEventNumbers(shared) if shared is not None else None
        return cls(
            config=config,
            auth=Auth(config, key_source=key_source, authorizer=authorizer, metrics=metrics),
            metrics=metrics,
            rate_limiter=limiter,
            shared=shared,
            pool=pool,
            health=HealthChecker(config, pool, probes=probes, metrics=metrics),
            schedulers=schedulers,
            caches={c.name: status_caches(c, _cache_counter(metrics, c.name)) for c in config.clusters},
            names={c.name: _owner_names(c, metrics) for c in config.clusters},
            staging={c.name: Staging(c.staging) for c in config.clusters if c.staging is not None},
            reads=SharedReads(metrics.shared_read),
            events=JobWatchers(config.events, pool, schedulers, command_ran=metrics.watcher_command, numbers=numbers),
        )

    def __attrs_post_init__(self) -> None:
        # /metrics reads the pool's gauges from its frozen statistics at each scrape.
        self.metrics.set_pool_source(self._pool_gauges)
        self.metrics.set_staging_source(
            lambda: [(name, len(staging.waiting.entries())) for name, staging in self.staging.items()]
        )
        self.metrics.set_stream_source(self._stream_gauges)
        self.health.on_result(self._health_metrics)

    def _health_metrics(self, result: ServiceHealth) -> None:
        assert result.healthy is not None and result.last_checked is not None
        self.metrics.health_probe(
            result.system, result.label, healthy=result.healthy,
            duration=result.latency or 0.0, at=result.last_checked.timestamp(),
        )

    def _stream_gauges(self) -> list[StreamGauges]:
        by_system: dict[str, list[int]] = {c.name: [0, 0, 0] for c in self.config.clusters}
        for w in self.events.statistics().watchers:
            counts = by_system.setdefault(w.system, [0, 0, 0])
            counts[0] += w.job_streams
            counts[1] += w.output_streams
            counts[2] += 1
        return [StreamGauges(system, *counts) for system, counts in by_system.items()]

    def _pool_gauges(self) -> list[PoolGauges]:
        return [
            PoolGauges(
                system=s.system,
                connections=s.connections,
                slots_in_use=sum(u.slots_in_use for u in s.users),
                waiters=sum(u.waiters for u in s.users),
                circuit_open=s.breaker.state != "closed",
            )
            for s in self.pool.statistics().systems
        ]


def _cache_counter(metrics: Metrics, system: str) -> Callable[[str, Lookup], None]:
    return lambda kind, how: metrics.cache_lookup(system, kind, how)


def _owner_names(cluster: ClusterConfig, metrics: Metrics) -> OwnerNames:
    count = _cache_counter(metrics, cluster.name)
    return OwnerNames(ttl=cluster.cache.names, max_entries=cluster.cache.max_entries,
                      on_lookup=lambda how: count("names", how))  # fmt: skip
