"""Which probes a cluster gets, and what they run (through the pool, against an in-memory server)."""

from __future__ import annotations

import attrs
import trio
from trio.testing import MockClock

from f7tproxy.config import S3StagingConfig, Secret
from f7tproxy.health import cluster_probes
from f7tproxy.ssh import PoolSupervisor

from ..ssh.fakes import FakeServer
from .fakes import config


def test_probes_follow_the_configuration() -> None:
    cluster = config(file_systems=("/home", "/scratch")).clusters[0]
    pool = PoolSupervisor([cluster])
    assert [(p.service, p.path) for p in cluster_probes(cluster, pool)] == [
        ("ssh", None), ("scheduler", None), ("filesystem", "/home"), ("filesystem", "/scratch"),
    ]  # fmt: skip
    staging = S3StagingConfig(
        private_url="http://127.0.0.1:1", public_url="http://127.0.0.1:1",
        access_key_id=Secret("a"), secret_access_key=Secret("b"),
    )  # fmt: skip
    no_account = attrs.evolve(cluster, service_account=None, staging=staging)
    assert [p.service for p in cluster_probes(no_account, pool)] == ["s3"]
    only_ssh = attrs.evolve(cluster, probes=attrs.evolve(cluster.probes, services={"ssh": cluster.probes.services["ssh"]}))
    assert [p.service for p in cluster_probes(only_ssh, pool)] == ["ssh"]


async def test_probes_run_as_the_service_account_with_quoted_paths(autojump_clock: MockClock) -> None:
    cluster = config(file_systems=("/home/it's",)).clusters[0]
    server = FakeServer(slots=4, duration=0.1)
    pool = PoolSupervisor([cluster], connectors={cluster.name: server})
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run)
        messages = [await p.check(5) for p in cluster_probes(cluster, pool)]
        nursery.cancel_scope.cancel()
    assert messages == ["ok", "out", "ok"]
    assert {c.user for c in server.connections} == {"firesrv"}
    assert server.commands[0].endswith(" true")
    assert server.commands[1].endswith(" scontrol ping")
    assert server.commands[2].endswith(""" ls -ld -- '/home/it'"'"'s'""")
