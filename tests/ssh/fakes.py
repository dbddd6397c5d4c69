"""In-memory stand-ins for SSH connections, to test the pool's logic under trio's autojump clock."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import AsyncIterator

import attrs
import trio

from f7tproxy.config import ClusterConfig, PoolConfig, SshConfig, StaticKeysCredentials
from f7tproxy.errors import ApiError
from f7tproxy.ssh import Completed, Process
from f7tproxy._aio import ChannelRefused, RemoteRunner, RunnerUnavailable


def cluster(name: str = "fake", **pool: object) -> ClusterConfig:
    """A cluster config whose pool settings are `pool` (defaults otherwise)."""
    return ClusterConfig(
        name=name,
        ssh=SshConfig(
            host="127.0.0.1",
            known_hosts=pathlib.Path("/dev/null"),
            credentials=StaticKeysCredentials(mode="static_keys"),
            pool=PoolConfig(**pool),  # type: ignore[arg-type]
            runner="off",
        ),
    )


@attrs.define(eq=False)
class FakeServer:
    """Counts what the pool does to it; commands take `duration` seconds."""

    slots: int
    """The server's channel limit per connection (sshd's MaxSessions)."""
    duration: float = 1.0
    connect_delay: float = 0.1
    fail_connects: ApiError | None = None
    refuse_channels: int = 0
    """The next this many channel opens are refused (connection stays open)."""
    connections: list[FakeConnection] = attrs.Factory(list)
    tokens: list[str | None] = attrs.Factory(list)
    running: int = 0
    max_running: int = 0
    max_per_connection: int = 0
    commands: list[str] = attrs.Factory(list)

    async def __call__(self, user: str, token: str | None) -> FakeConnection:
        await trio.sleep(self.connect_delay)
        self.tokens.append(token)
        if self.fail_connects is not None:
            raise self.fail_connects
        conn = FakeConnection(self, user, f"{user}#{len(self.connections)}")
        self.connections.append(conn)
        return conn

    def open_connections(self, user: str | None = None) -> list[FakeConnection]:
        return [c for c in self.connections if not c.is_closed() and (user is None or c.user == user)]


@attrs.define(eq=False)
class FakeConnection:
    server: FakeServer
    user: str
    label: str
    running: int = 0
    closed: trio.Event = attrs.Factory(trio.Event)

    def is_closed(self) -> bool:
        return self.closed.is_set()

    async def _open_channel(self) -> None:
        await trio.lowlevel.checkpoint()
        if self.is_closed():
            raise ChannelRefused("connection closed", connection_closed=True)
        if self.server.refuse_channels > 0:
            self.server.refuse_channels -= 1
            raise ChannelRefused("open failed", connection_closed=False)

    async def run(self, command: str, *, stdin: bytes | None, output_limit: int) -> Completed:
        await self._open_channel()
        if self.running >= self.server.slots:
            raise AssertionError(f"{self.label}: more channels than the server allows")
        self.running += 1
        self.server.running += 1
        self.server.max_running = max(self.server.max_running, self.server.running)
        self.server.max_per_connection = max(self.server.max_per_connection, self.running)
        self.server.commands.append(command)
        try:
            await trio.sleep(self.server.duration)
        finally:
            self.running -= 1
            self.server.running -= 1
        return Completed(0, None, (stdin or b"") + b"out", b"")

    async def start_runner(self, *, interpreter: str, start_timeout: float) -> RemoteRunner:
        raise RunnerUnavailable("a fake connection has no runner", permanent=True)

    @contextlib.asynccontextmanager
    async def open_process(self, command: str, *, stderr_limit: int) -> AsyncIterator[Process]:
        """A process that has exited with status 0 once the block is left (it streams nothing)."""
        await self._open_channel()
        self.server.commands.append(command)
        yield FakeProcess()  # type: ignore[misc]

    async def wait_closed(self) -> None:
        await self.closed.wait()

    async def aclose(self) -> None:
        self.closed.set()


class FakeProcess:
    exit_status: int | None = 0
