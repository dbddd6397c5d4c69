"""Status routes reuse slow-changing answers: fewer remote commands, visible in /metrics."""

from __future__ import annotations

from typing import Any

import trio
from quart.typing import TestClientProtocol as Client

from f7tproxy.config import CacheConfig
from f7tproxy.runtime import Runtime

from ..auth import tokens
from ..ssh.fakes import FakeServer
from .inprocess import app_over


async def get(client: Client, path: str, user: str = "alice") -> int:
    token = tokens.sign(tokens.claims(preferred_username=user))
    response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def lookups(runtime: Runtime, kind: str) -> dict[str, Any]:
    found = {}
    for result in ("miss", "joined", "hit"):
        labels = {"system": "fake", "kind": kind, "result": result}
        found[result] = runtime.metrics.registry.get_sample_value("f7tproxy_cache_lookups_total", labels)
    return found


async def test_concurrent_and_repeated_requests_run_one_command_per_user() -> None:
    server = FakeServer(slots=10, duration=0.5)
    async with app_over(server) as (runtime, client):
        statuses: list[int] = []

        async def ask() -> None:
            statuses.append(await get(client, "/status/fake/partitions"))

        async with trio.open_nursery() as n:
            for _ in range(5):
                n.start_soon(ask)
        statuses.append(await get(client, "/status/fake/partitions"))
        assert statuses == [200] * 6
        assert len(server.commands) == 1 and "show partitions" in server.commands[0]
        assert lookups(runtime, "partitions") == {"miss": 1.0, "joined": 4.0, "hit": 1.0}
        # another user has answers of their own (Slurm's PrivateData can hide partitions)
        assert await get(client, "/status/fake/partitions", user="bob") == 200
        assert len(server.commands) == 2
        text = runtime.metrics.render().decode()
        assert 'f7tproxy_cache_lookups_total{kind="partitions",result="hit",system="fake"} 1.0' in text


async def test_shared_answers_serve_every_user() -> None:
    server = FakeServer(slots=10, duration=0.1)
    async with app_over(server, cache=CacheConfig(shared=True)) as (_, client):
        for user in ("alice", "bob", "carol"):
            assert await get(client, "/status/fake/partitions", user=user) == 200
        assert len(server.commands) == 1


async def test_a_zero_ttl_asks_the_cluster_every_time_and_failures_are_not_kept() -> None:
    server = FakeServer(slots=10, duration=0.1)
    async with app_over(server, cache=CacheConfig(partitions=0)) as (_, client):
        for _ in range(3):
            assert await get(client, "/status/fake/partitions") == 200
        assert len(server.commands) == 3
        # The fake answers "out" to `id` and sacctmgr: a failed userinfo is asked again, never kept.
        assert [await get(client, "/status/fake/userinfo") for _ in range(2)] == [500, 500]
        assert sum("f7t-several" in c for c in server.commands) == 2
