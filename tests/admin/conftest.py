"""An AdminServer in this trio run, over a runtime with an in-memory SSH server and fake probes."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
import trio

from f7tproxy.admin import AdminServer
from f7tproxy.runtime import Runtime

from ..health.fakes import FakeProbe, config
from ..health.inprocess import with_test_auth
from ..ssh.fakes import FakeServer


@attrs.define
class Admin:
    runtime: Runtime
    server: AdminServer
    ssh: FakeServer
    probes: dict[str, FakeProbe]
    path: pathlib.Path
    clients: list[Client] = attrs.Factory(list)

    async def connect(self) -> Client:
        """A client connection, closed at the end of the test."""
        client = Client(await trio.open_unix_socket(str(self.path)))
        self.clients.append(client)
        return client


@attrs.define
class Client:
    stream: trio.SocketStream
    buffer: bytes = b""

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def line(self) -> dict[str, Any]:
        with trio.fail_after(10):
            while b"\n" not in self.buffer:
                data = await self.stream.receive_some(65536)
                if not data:
                    raise EOFError("admin server closed the connection")
                self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)  # type: ignore[no-any-return]

    async def ask(self, **request: Any) -> dict[str, Any]:
        await self.send(json.dumps(request).encode() + b"\n")
        return await self.line()

    async def aclose(self) -> None:
        await self.stream.aclose()


@pytest.fixture
async def admin(tmp_path: pathlib.Path, nursery: trio.Nursery) -> AsyncIterator[Admin]:
    cfg = with_test_auth(config(interval=600))
    ssh = FakeServer(slots=4, duration=0.01, connect_delay=0.01)
    probes = {"ssh": FakeProbe("ssh", duration=0), "/home": FakeProbe("filesystem", "/home", duration=0)}
    runtime = Runtime.build(cfg, connectors={"fake": ssh}, probes={"fake": list(probes.values())})
    await nursery.start(runtime.pool.run)
    await nursery.start(runtime.health.run)
    path = tmp_path / "run" / "admin.sock"
    server = AdminServer(runtime, path, write_timeout=0.5)
    assert await nursery.start(server.run) == path
    admin = Admin(runtime, server, ssh, probes, path)
    yield admin
    for client in admin.clients:
        await client.aclose()
    nursery.cancel_scope.cancel()
