"""Probes whose answers a test sets, for the checker's logic under trio's autojump clock."""

from __future__ import annotations

import math

import attrs
import trio

from f7tproxy.config import BreakerConfig, ClusterConfig, Config, FileSystemConfig, ProbeConfig, ProbesConfig
from f7tproxy.health import ProbeFailed, Service

from ..ssh.fakes import cluster as fake_cluster


@attrs.define(eq=False)
class FakeProbe:
    """Healthy while `failing` is None; takes `duration` seconds (math.inf: hangs)."""

    service: Service
    path: str | None = None
    failing: str | None = None
    duration: float = 0.5
    calls: int = 0
    running: int = 0

    async def check(self, timeout: float) -> str:
        self.calls += 1
        self.running += 1
        try:
            if math.isinf(self.duration):
                await trio.sleep_forever()
            await trio.sleep(self.duration)
        finally:
            self.running -= 1
        if self.failing is not None:
            raise ProbeFailed(self.failing)
        return "ok"


def config(
    name: str = "fake",
    *,
    interval: float = 10.0,
    timeout: float = 2.0,
    file_systems: tuple[str, ...] = ("/home", "/scratch"),
    probe_interval: float = 1.0,
) -> Config:
    """A config with one cluster probed every `interval` seconds (`probe_interval` while unhealthy)."""
    cluster: ClusterConfig = attrs.evolve(
        fake_cluster(name),
        service_account="firesrv",
        file_systems=tuple(FileSystemConfig(path=p) for p in file_systems),
        probes=ProbesConfig(
            interval=interval,
            services={s: ProbeConfig(timeout=timeout) for s in ("ssh", "scheduler", "filesystem", "s3")},
        ),
        breaker=BreakerConfig(probe_interval=probe_interval),
    )
    return Config(clusters=(cluster,))
