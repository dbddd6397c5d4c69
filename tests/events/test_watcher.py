"""A job watcher over an in-memory SSH server (tests/ssh/fakes.py), under trio's autojump clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio

from f7tproxy.config import EventsConfig
from f7tproxy.errors import NotFound, RateLimited, ServiceUnavailable, SshConnectFailed
from f7tproxy.events import Failed, JobChanged, JobWatchers, KeepAlive, Shutdown
from f7tproxy.scheduler import Job, JobService, JobStatus, Runner, SlurmBackend
from f7tproxy.ssh import PoolSupervisor

from ..ssh.fakes import FakeServer, cluster
from .test_units import job


class Scripted(SlurmBackend):
    """Slurm whose job states the test sets; each poll is one remote command on the lease."""

    def __init__(self) -> None:
        super().__init__(cluster())
        self.states: dict[str, str] = {}
        self.exit_codes: dict[str, int] = {}

    async def watch_jobs(self, run: Runner, user: str, job_ids: Sequence[str]) -> list[Job]:
        await run.run(["squeue"])
        return [job(state, job_id=i, status=JobStatus(state, exit_code=self.exit_codes.get(i)))
                for i, state in self.states.items() if i in job_ids]  # fmt: skip


async def test_a_watcher_survives_a_dropped_connection(autojump_clock: trio.abc.Clock, nursery: trio.Nursery) -> None:
    server = FakeServer(slots=4, duration=0.01, connect_delay=0.01)
    pool = PoolSupervisor([cluster()], connectors={"fake": server})
    await nursery.start(pool.run)
    backend = Scripted()
    watchers = JobWatchers(EventsConfig(interval=1, keepalive=5), pool, {"fake": JobService(cluster(), backend)})
    await nursery.start(watchers.run)
    backend.states["7"] = "PENDING"
    with trio.fail_after(300):
        listener = await watchers.follow_job("fake", "alice", None, "7", None)
        items = listener.items()
        first = await items.__anext__()
        assert isinstance(first, JobChanged) and first.job.status.state == "PENDING"
        # The login node goes away: the connection drops and new ones are refused for a while.
        server.fail_connects = SshConnectFailed("connection refused")
        for conn in server.connections:
            await conn.aclose()
        backend.states["7"] = "RUNNING"
        assert isinstance(await items.__anext__(), KeepAlive)  # the stream stays open meanwhile
        assert watchers.statistics().watchers[0].errors >= 1
        server.fail_connects = None
        item = await items.__anext__()
        while isinstance(item, KeepAlive):
            item = await items.__anext__()
        assert isinstance(item, JobChanged) and item.job.status.state == "RUNNING"
        backend.states["7"] = "COMPLETED"
        item = await items.__anext__()
        assert isinstance(item, JobChanged) and item.job.status.state == "COMPLETED"
        assert [i async for i in items] == []  # ended after a finished state
    listener.close()
    assert watchers.statistics().watchers == ()


@pytest.mark.parametrize("listeners", [1, 10, 100])
async def test_many_listeners_one_poll(listeners: int, autojump_clock: trio.abc.Clock, nursery: trio.Nursery) -> None:
    """However many listeners (on up to 20 jobs), one scheduler command per 1 s interval."""
    server = FakeServer(slots=4, duration=0.01, connect_delay=0.01)
    pool = PoolSupervisor([cluster()], connectors={"fake": server})
    await nursery.start(pool.run)
    backend = Scripted()
    watchers = JobWatchers(EventsConfig(interval=1, max_streams_per_user=200), pool,
                           {"fake": JobService(cluster(), backend)})  # fmt: skip
    await nursery.start(watchers.run)
    backend.states.update({str(i): "PENDING" for i in range(20)})
    opened = []
    async with trio.open_nursery() as opening:
        for n in range(listeners):
            async def one(n: int = n) -> None:
                opened.append(await watchers.follow_job("fake", "alice", None, str(n % 20), None))
            opening.start_soon(one)
    to_open = len(server.commands)
    await trio.sleep(10.5)
    print(f"{listeners} listeners: {to_open} commands to open, {len(server.commands) - to_open} in 10.5 s")
    assert to_open <= 2 and len(server.commands) - to_open <= 11
    (stats,) = watchers.statistics().watchers
    assert stats.job_streams == listeners and stats.jobs == min(listeners, 20)
    for listener in opened:
        listener.close()
    assert watchers.statistics().watchers == ()


async def test_cap_and_shutdown(autojump_clock: trio.abc.Clock, nursery: trio.Nursery) -> None:
    server = FakeServer(slots=4, duration=0.01, connect_delay=0.01)
    pool = PoolSupervisor([cluster()], connectors={"fake": server})
    await nursery.start(pool.run)
    backend = Scripted()
    watchers = JobWatchers(EventsConfig(interval=2, max_streams_per_user=2), pool,
                           {"fake": JobService(cluster(), backend)})  # fmt: skip
    await nursery.start(watchers.run)
    backend.states["7"] = "PENDING"
    first = await watchers.follow_job("fake", "alice", None, "7", None)
    second = await watchers.follow_job("fake", "alice", None, "7", None)
    with pytest.raises(RateLimited) as refused:
        await watchers.follow_job("fake", "alice", None, "7", None)
    assert refused.value.retry_after == 2
    other_user = await watchers.follow_job("fake", "bob", None, "7", None)  # the cap is per user
    with pytest.raises(NotFound):
        await watchers.follow_job("fake", "bob", None, "8", None)  # unknown job: before any stream
    items = [listener.items() for listener in (first, second, other_user)]
    for stream in items:
        assert isinstance(await stream.__anext__(), JobChanged)
    watchers.stop()
    for stream in items:
        assert [i async for i in stream] == [Shutdown()]
    with pytest.raises(ServiceUnavailable):
        await watchers.follow_job("fake", "carol", None, "7", None)
    for listener in (first, second, other_user):
        listener.close()
    assert watchers.statistics().watchers == ()


async def test_an_output_stream_of_a_job_the_scheduler_does_not_know_ends(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    server = FakeServer(slots=4, duration=0.01, connect_delay=0.01)
    pool = PoolSupervisor([cluster()], connectors={"fake": server})
    await nursery.start(pool.run)
    watchers = JobWatchers(EventsConfig(interval=1), pool, {"fake": JobService(cluster(), Scripted())})
    await nursery.start(watchers.run)
    listener = watchers.follow_output("fake", "alice", None, "9", "/home/alice/slurm-9.out", 0)
    with trio.fail_after(60):
        items = [i async for i in listener.items()]
    assert len(items) == 1 and isinstance(items[0], Failed) and isinstance(items[0].error, NotFound)
    listener.close()
    assert watchers.statistics().watchers == ()
