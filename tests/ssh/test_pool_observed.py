"""What the pool tells operators: one audit line per remote command, failure and reconnect counts."""

from __future__ import annotations

import pathlib

import pytest
import trio

from f7tproxy.errors import CommandTimeout, HostKeyMismatch
from f7tproxy.observability import Metrics
from f7tproxy.ssh import PoolSupervisor

from ..conftest import Testbed, lines
from .conftest import TESTBED_SYSTEM
from .conftest import testbed_cluster as cluster_of  # not a test itself

pytestmark = pytest.mark.testbed


async def test_each_remote_command_writes_one_audit_line(
    testbed: Testbed, aio_nursery: trio.Nursery, log_files: tuple[pathlib.Path, pathlib.Path]
) -> None:
    _, audit_file = log_files
    pool = PoolSupervisor([cluster_of(testbed)])
    await aio_nursery.start(pool.run)
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        await lease.run(["sh", "-c", "exit 3"], stdin="secret file contents")
        with pytest.raises(CommandTimeout):
            await lease.run(["/bin/sleep", "6190"], timeout=1)
        async with lease.stream(["cat"]) as proc:
            await proc.send_eof()
            await proc.wait()
    first, second, third = lines(audit_file)
    assert (first["user"], first["system"], first["action"]) == ("fireuser", TESTBED_SYSTEM, "sh")
    assert (first["command"], first["exit_status"], first["error"]) == (["sh", "-c", "exit 3"], 3, None)
    assert (second["action"], second["exit_status"], second["error"]) == ("sleep", None, "timeout")
    assert (third["action"], third["exit_status"], third["error"]) == ("cat", 0, None)
    assert "secret file contents" not in audit_file.read_text()


async def test_a_wrong_host_key_counts_as_a_host_key_failure(testbed: Testbed, aio_nursery: trio.Nursery) -> None:
    metrics = Metrics()
    pool = PoolSupervisor([cluster_of(testbed, known_hosts="wrong_known_hosts")], metrics=metrics)
    await aio_nursery.start(pool.run)
    with pytest.raises(HostKeyMismatch):
        async with pool.lease(TESTBED_SYSTEM, "fireuser"):
            pass  # pragma: no cover
    sample = metrics.registry.get_sample_value(
        "f7tproxy_ssh_failures_total", {"system": TESTBED_SYSTEM, "reason": "host_key"}
    )
    assert sample == 1
