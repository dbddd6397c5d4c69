"""Fixtures for the SSH tests: the asyncio loop, and pools against the testbed's sshd."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import trio

from f7tproxy._aio import Connection, asyncio_loop, connect, import_private_key
from f7tproxy.config import (
    ClusterConfig,
    Credentials,
    PoolConfig,
    Secret,
    SshCaCredentials,
    SshConfig,
)
from f7tproxy.ssh import PoolSupervisor

from ..conftest import Testbed, ssh_runner_setting

TESTBED_SYSTEM = "testbed"


@pytest.fixture
async def aio() -> AsyncIterator[None]:
    """The trio-asyncio loop, as `serve` opens it around the root nursery."""
    async with asyncio_loop():
        yield


@pytest.fixture
async def aio_nursery(aio: None) -> AsyncIterator[trio.Nursery]:
    """A nursery inside the asyncio loop (closed before the loop is)."""
    async with trio.open_nursery() as nursery:
        yield nursery
        nursery.cancel_scope.cancel()


def testbed_cluster(
    testbed: Testbed,
    *,
    credentials: Credentials | None = None,
    known_hosts: str | None = None,
    runner: str | None = None,
    **pool: Any,
) -> ClusterConfig:
    """The testbed's sshd as a cluster (ssh_ca credentials unless told otherwise; `ssh.runner` as
    given, else from F7T_TEST_SSH_RUNNER, else the product's default)."""
    if credentials is None:
        credentials = SshCaCredentials(mode="ssh_ca", ca_key=Secret(testbed.user_ca.read_text(), "file:user_ca"))
    return ClusterConfig(
        name=TESTBED_SYSTEM,
        ssh=SshConfig(
            host=testbed.env.get("F7T_SSH_HOST", "127.0.0.1"),
            port=int(testbed.env.get("F7T_SSH_PORT", "2222")),
            known_hosts=testbed.dir / "ssh" / (known_hosts or "known_hosts"),
            credentials=credentials,
            pool=PoolConfig(**pool),
            **({"runner": runner} if runner else ssh_runner_setting()),  # type: ignore[arg-type]
        ),
    )


StartPool = Callable[..., Awaitable[PoolSupervisor]]


@pytest.fixture
def testbed_pool(testbed: Testbed, aio_nursery: trio.Nursery) -> StartPool:
    """`await testbed_pool(**pool_settings)`: a running pool for the testbed's sshd."""

    async def start(**kw: Any) -> PoolSupervisor:
        pool = PoolSupervisor([testbed_cluster(testbed, **kw)])
        await aio_nursery.start(pool.run)
        return pool

    return start


@contextlib.asynccontextmanager
async def fireuser_connection(testbed: Testbed, *, keepalive_interval: float = 30) -> AsyncIterator[Connection]:
    """One SSH connection to the testbed's sshd as fireuser (inside the `aio` fixture), closed after."""
    conn = await connect(
        testbed.env.get("F7T_SSH_HOST", "127.0.0.1"), int(testbed.env.get("F7T_SSH_PORT", "2222")),
        username="fireuser", key=import_private_key(testbed.key("fireuser").read_text()), certificate=None,
        known_hosts=testbed.known_hosts, connect_timeout=30, login_timeout=30,
        keepalive_interval=keepalive_interval, keepalive_count_max=3,
    )  # fmt: skip
    try:
        yield conn
    finally:
        await conn.aclose()
