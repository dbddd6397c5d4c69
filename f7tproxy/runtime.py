"""What a running f7tproxy shares between its parts and its request handlers."""

from __future__ import annotations

import time
from collections.abc import Callable

import attrs

from .auth import Auth
from .config import Config
from .health import HealthChecker, ServiceHealth
from .observability import Metrics, PoolGauges, RequestStats
from .ratelimit import RateLimiter
from .scheduler import JobService, Lookup, StatusCaches, job_services, status_caches
from .ssh import PoolSupervisor
from .transfer import Staging


@attrs.define
class Runtime:
    """The live parts of one f7tproxy process.

    Built by `f7tproxy.server.serve` once every part has started; request
    handlers reach it as `current_app.runtime` and never build parts themselves.
    """

    config: Config
    started_at: float = attrs.field(factory=time.time)
    """Wall-clock start time (seconds since the epoch)."""
    auth: Auth = attrs.field(default=attrs.Factory(lambda self: Auth(self.config), takes_self=True))
    """Token validation and authorization; until its `run` has loaded keys, requests get 503."""
    metrics: Metrics = attrs.field(factory=Metrics)
    """The process's Prometheus metrics; parts report to it through its methods."""
    rate_limiter: RateLimiter = attrs.field(
        default=attrs.Factory(lambda self: RateLimiter(self.config.rate_limit), takes_self=True)
    )
    """Token buckets per user, system and client (`f7tproxy.api.enforce_rate_limit`)."""
    pool: PoolSupervisor = attrs.field(
        default=attrs.Factory(lambda self: PoolSupervisor(self.config.clusters), takes_self=True)
    )
    """SSH leases to every cluster: `async with runtime.pool.lease(system, user, token) as ssh:`;
    until its `run` has started, leases get 503."""
    health: HealthChecker = attrs.field(
        default=attrs.Factory(lambda self: HealthChecker(self.config, self.pool, metrics=self.metrics), takes_self=True)
    )
    """Probe results, and the gate: `runtime.health.gate(system, "scheduler")`, `gate_path(system, path)`."""
    requests: RequestStats = attrs.field(factory=RequestStats)
    """Per-endpoint request counts, rates, latencies and recent errors, for the admin socket."""
    schedulers: dict[str, JobService] = attrs.field(
        default=attrs.Factory(lambda self: job_services(self.config.clusters), takes_self=True)
    )
    """Each system's scheduler backend (with idempotent submit and read-your-writes), by name."""
    caches: dict[str, StatusCaches] = attrs.field(
        default=attrs.Factory(lambda self: self._status_caches(), takes_self=True)
    )
    """Each system's brief caches of nodes, partitions, reservations and user information, by name."""
    staging: dict[str, Staging] = attrs.field(
        default=attrs.Factory(
            lambda self: {c.name: Staging(c.staging) for c in self.config.clusters if c.staging is not None},
            takes_self=True,
        )
    )
    """Each system's S3 staging store (systems without `staging` have none), by name."""

    def __attrs_post_init__(self) -> None:
        # /metrics reads the pool's gauges from its frozen statistics at each scrape.
        self.metrics.set_pool_source(self._pool_gauges)
        self.metrics.set_staging_source(
            lambda: [(name, len(staging.waiting.entries())) for name, staging in self.staging.items()]
        )
        self.health.on_result(self._health_metrics)

    def _status_caches(self) -> dict[str, StatusCaches]:
        def counter(system: str) -> Callable[[str, Lookup], None]:
            return lambda kind, how: self.metrics.cache_lookup(system, kind, how)

        return {c.name: status_caches(c, counter(c.name)) for c in self.config.clusters}

    def _health_metrics(self, result: ServiceHealth) -> None:
        assert result.healthy is not None and result.last_checked is not None
        self.metrics.health_probe(
            result.system, result.label, healthy=result.healthy,
            duration=result.latency or 0.0, at=result.last_checked.timestamp(),
        )

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
