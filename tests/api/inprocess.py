"""The app in process over a cluster whose SSH connections are in memory (tests/ssh/fakes.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
import trio
from quart.typing import TestClientProtocol

from f7tproxy.api import create_app
from f7tproxy.auth import LocalKeySource
from f7tproxy.config import CacheConfig, Config, FileSystemConfig
from f7tproxy.runtime import Runtime
from f7tproxy._aio import asyncio_loop

from ..auth import tokens
from ..health.inprocess import with_test_auth
from ..ssh.fakes import FakeServer, cluster


@contextlib.asynccontextmanager
async def app_over(
    server: FakeServer, *, cache: CacheConfig | None = None, file_systems: tuple[str, ...] = (), **pool: object
) -> AsyncIterator[tuple[Runtime, TestClientProtocol]]:
    """The app in process over one cluster `fake` (pool settings `pool`, file systems at
    `file_systems`) whose SSH connections are `server`'s."""
    fake = cluster(**pool)
    if cache is not None:
        fake = attrs.evolve(fake, cache=cache)
    if file_systems:
        fake = attrs.evolve(fake, file_systems=tuple(FileSystemConfig(path=path) for path in file_systems))
    config = with_test_auth(Config(clusters=(fake,)))
    runtime = Runtime.build(
        config, connectors={"fake": server}, probes={"fake": []},
        key_source=LocalKeySource(lambda: tokens.jwks(), "test keys"),
    )  # fmt: skip
    async with asyncio_loop(), trio.open_nursery() as nursery:
        await nursery.start(runtime.auth.run)
        runtime.auth.bound(["http://f7tproxy.test"])
        await nursery.start(runtime.pool.run)
        await nursery.start(runtime.health.run)
        app = create_app(runtime)
        async with app.test_app() as test_app:
            yield runtime, test_app.test_client()
        nursery.cancel_scope.cancel()
