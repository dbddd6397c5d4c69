"""The app in process over a cluster whose SSH connections are in memory (tests/ssh/fakes.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
import trio
from quart.typing import TestClientProtocol

from f7tproxy.api import create_app
from f7tproxy.auth import Auth, LocalKeySource
from f7tproxy.config import CacheConfig, Config
from f7tproxy.health import HealthChecker
from f7tproxy.observability import Metrics
from f7tproxy.runtime import Runtime
from f7tproxy._aio import asyncio_loop
from f7tproxy.ssh import PoolSupervisor

from ..auth import tokens
from ..health.inprocess import with_test_auth
from ..ssh.fakes import FakeServer, cluster


@contextlib.asynccontextmanager
async def app_over(
    server: FakeServer, *, cache: CacheConfig | None = None, **pool: object
) -> AsyncIterator[tuple[Runtime, TestClientProtocol]]:
    """The app in process over one cluster `fake` (pool settings `pool`) whose SSH connections are `server`'s."""
    fake = cluster(**pool)
    if cache is not None:
        fake = attrs.evolve(fake, cache=cache)
    config = with_test_auth(Config(clusters=(fake,)))
    auth = Auth(config, key_source=LocalKeySource(lambda: tokens.jwks(), "test keys"))
    metrics = Metrics()
    pool_ = PoolSupervisor(config.clusters, connectors={"fake": server}, metrics=metrics)
    health = HealthChecker(config, pool_, probes={"fake": []})
    async with asyncio_loop(), trio.open_nursery() as nursery:
        await nursery.start(auth.run)
        auth.bound(["http://f7tproxy.test"])
        await nursery.start(pool_.run)
        await nursery.start(health.run)
        runtime = Runtime(config=config, pool=pool_, auth=auth, health=health, metrics=metrics)
        app = create_app(runtime)
        async with app.test_app() as test_app:
            yield runtime, test_app.test_client()
        nursery.cancel_scope.cancel()
