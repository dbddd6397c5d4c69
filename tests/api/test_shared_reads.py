"""Identical concurrent reads of one user share one remote command, never across a write."""

from __future__ import annotations

import functools
from typing import Any

import trio
from quart.typing import TestClientProtocol as Client

from f7tproxy.runtime import Runtime

from ..auth import tokens
from ..ssh.fakes import FakeServer
from .inprocess import app_over

FILE = "/home/alice/data.txt"


@functools.cache
def bearer(user: str = "alice") -> dict[str, str]:
    """One token per user, as a client keeps it."""
    return {"Authorization": f"Bearer {tokens.sign(tokens.claims(preferred_username=user))}"}


async def file_type(client: Client, path: str = FILE, user: str = "alice") -> tuple[int, Any]:
    response = await client.get("/filesystem/fake/ops/file", query_string={"path": path}, headers=bearer(user))
    return response.status_code, await response.get_json()


def shared(runtime: Runtime, result: str) -> float:
    labels = {"system": "fake", "result": result}
    return runtime.metrics.registry.get_sample_value("f7tproxy_shared_reads_total", labels) or 0.0


async def test_identical_concurrent_reads_run_one_command() -> None:
    server = FakeServer(slots=10, duration=0.5)
    async with app_over(server, file_systems=("/home",)) as (runtime, client):
        answers: list[tuple[int, Any]] = []

        async def ask(path: str = FILE, user: str = "alice") -> None:
            answers.append(await file_type(client, path, user))

        async with trio.open_nursery() as n:
            for _ in range(8):
                n.start_soon(ask)
            n.start_soon(ask, "/home/alice/other.txt")  # other parameters: a command of its own
            n.start_soon(ask, FILE, "bob")  # another user: a command of their own
        assert answers == [(200, {"output": "out"})] * 10
        assert len(server.commands) == 3
        assert (shared(runtime, "ran"), shared(runtime, "joined")) == (3, 7)
        # Nothing is kept: the next read runs again.
        await ask()
        assert len(server.commands) == 4
        # What operators see: the admin snapshot's sharing figures, and commands per request.
        sharing = runtime.metrics.sharing("fake")
        assert (sharing.reads_ran, sharing.reads_joined, sharing.pool_busy) == (4, 7, 0)
        stats = runtime.requests.statistics(trio.current_time())
        [ops] = [e for e in stats.endpoints if e.endpoint == "/filesystem/{system}/ops/file"]
        assert (ops.count, ops.commands) == (11, 4)
        text = runtime.metrics.render().decode()
        assert 'f7tproxy_http_remote_commands_total{endpoint="/filesystem/{system}/ops/file"} 4.0' in text
        hits, checked = runtime.metrics.token_cache()
        assert (hits, checked) == (9, 2)  # alice's and bob's tokens checked once each


async def test_reads_never_share_a_command_across_a_write() -> None:
    # t=0 reads A (their command runs 0-1); t=0.2 rm (runs 0.2-1.2); t=0.5 reads B, during
    # the write (0.5-1.5); t=1.35, after it, reads C while B's command still runs.
    # Each group runs its own command: none joins an earlier one.
    server = FakeServer(slots=10, duration=1.0)
    async with app_over(server, file_systems=("/home",)) as (runtime, client):

        async def read_at(delay: float) -> None:
            await trio.sleep(delay)
            assert (await file_type(client))[0] == 200

        async def rm_at(delay: float) -> None:
            await trio.sleep(delay)
            query = {"path": "/home/alice/old"}
            response = await client.delete("/filesystem/fake/ops/rm", query_string=query, headers=bearer())
            assert response.status_code == 204, await response.get_json()

        async with trio.open_nursery() as n:
            for delay in (0, 0, 0.5, 0.5, 1.35, 1.35):
                n.start_soon(read_at, delay)
            n.start_soon(rm_at, 0.2)
        reads = [c for c in server.commands if "rm" not in c]
        assert len(reads) == 3 and len(server.commands) == 4
        assert (shared(runtime, "ran"), shared(runtime, "joined")) == (3, 3)
        assert runtime.reads.epoch("fake", "alice") > 0 and runtime.reads.epoch("fake", "bob") == 0


async def test_a_failed_read_fails_every_request_that_joined_it() -> None:
    server = FakeServer(slots=10, duration=0.3)
    async with app_over(server, file_systems=("/home",)) as (_, client):
        statuses: list[int] = []

        async def ask() -> None:
            statuses.append((await file_type(client, "/home/../etc/passwd"))[0])

        async with trio.open_nursery() as n:
            for _ in range(3):
                n.start_soon(ask)
        assert statuses == [400] * 3
