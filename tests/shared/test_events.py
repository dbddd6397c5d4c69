"""Job-event numbers in Redis: replicas number a job's changes alike, so a stream resumed with
Last-Event-ID on another replica goes on after that event; Redis down: local numbers, no hang."""

from __future__ import annotations

from collections.abc import AsyncIterator

import trio

from f7tproxy.config import EventsConfig
from f7tproxy.events import Item, JobChanged, JobListener, JobWatchers
from f7tproxy.scheduler import JobService
from f7tproxy.shared import SharedEventNumbers, SharedStore
from f7tproxy.ssh import PoolSupervisor

from ..events.test_watcher import Scripted
from ..ssh.fakes import FakeServer, cluster
from .conftest import Redis, store
from .test_ratelimit import failures

P, R, C = '["PENDING"]', '["RUNNING"]', '["COMPLETED"]'


async def test_replicas_number_a_jobs_states_alike(redis: Redis) -> None:
    a, b = store(redis.url), store(redis.url)
    async with trio.open_nursery() as nursery:
        await nursery.start(a.run)
        await nursery.start(b.run)
        na, nb = SharedEventNumbers(a, lag=0.5), SharedEventNumbers(b, lag=0.5)
        assert await na.number("s", "u", [("7", P, 1, "{}")]) == [(1, 1)]
        assert await nb.number("s", "u", [("7", P, 1, "{}")]) == [(1, 1)]  # numbered already: the same number
        assert await na.number("s", "u", [("7", R, 2, "{}"), ("8", P, 1, "{}")]) == [(2, 2), (1, 1)]  # one call, two jobs
        # A replica that starts watching late, its first poll behind the other's: the number PENDING had
        assert await SharedEventNumbers(b, lag=0.5).number("s", "u", [("7", P, 1, "{}")]) == [(1, 2)]
        assert await nb.number("s", "u", [("7", R, 2, "{}")]) == [(2, 2)]
        assert [seq for seq, _ in await nb.numbered("s", "u", "7")] == [1, 2]
        assert await nb.numbered("s", "u", "9") == []
        assert await nb.numbered("s", "v", "7") == []  # another user's job 7 is another job
        # Long after RUNNING was numbered, PENDING again is a change (a requeued job), not a late poll.
        await trio.sleep(0.6)
        assert await na.number("s", "u", [("7", P, 3, "{}")]) == [(3, 3)]
        # A replica that numbered on alone (Redis was down) never goes back: the least number wins.
        assert await nb.number("s", "u", [("7", C, 6, "{}")]) == [(6, 6)]
        assert await na.number("s", "u", [("7", C, 4, "{}")]) == [(6, 6)]
        assert failures(a, "events") == failures(b, "events") == 0
        nursery.cancel_scope.cancel()


async def test_the_log_is_bounded_and_expires(redis: Redis) -> None:
    s = store(redis.url, prefix="bounded:")
    async with trio.open_nursery() as nursery:
        await nursery.start(s.run)
        numbers = SharedEventNumbers(s, ttl=60)
        for i in range(40):
            await numbers.number("s", "u", [("7", f'["S{i}"]', i + 1, "{}")])

        async def length_and_ttl(c: object) -> tuple[int, int]:
            return await c.llen("bounded:ev:s:u:7"), await c.pttl("bounded:ev:s:u:7")  # type: ignore[attr-defined]

        length, ttl = await s.call("test", length_and_ttl)
        assert length == 16 and 0 < ttl <= 60_000
        assert [seq for seq, _ in await numbers.numbered("s", "u", "7")] == list(range(25, 41))
        nursery.cancel_scope.cancel()


async def replica(nursery: trio.Nursery, backend: Scripted, shared: SharedStore) -> JobWatchers:
    """One replica's job watchers over its own (in-memory) SSH pool, on the one scripted Slurm."""
    pool = PoolSupervisor([cluster()], connectors={"fake": FakeServer(slots=4, duration=0.01, connect_delay=0.01)})
    await nursery.start(pool.run)
    await nursery.start(shared.run)
    watchers = JobWatchers(EventsConfig(interval=0.1, fast_interval=0.1, keepalive=60), pool,
                           {"fake": JobService(cluster(), backend)}, numbers=SharedEventNumbers(shared))  # fmt: skip
    await nursery.start(watchers.run)
    return watchers


async def next_change(items: AsyncIterator[Item]) -> JobChanged:
    async for item in items:
        if isinstance(item, JobChanged):
            return item
    raise AssertionError("the stream ended")


async def follow_until_running(watchers: JobWatchers, backend: Scripted) -> int:
    """A client follows job 7 from PENDING until it runs, then leaves: the id it has."""
    backend.states["7"] = "PENDING"
    listener = await watchers.follow_job("fake", "alice", None, "7", None)
    items = listener.items()
    assert (await next_change(items)).seq == 1
    backend.states["7"] = "RUNNING"
    running = await next_change(items)
    assert (running.seq, running.job.status.state) == (2, "RUNNING")
    await items.aclose()  # type: ignore[attr-defined]
    listener.close()
    return running.seq


async def finish(backend: Scripted, listener: JobListener) -> list[tuple[int, str]]:
    """Job 7 completes: what `listener`'s stream sends to its end."""
    backend.exit_codes["7"] = 0
    backend.states["7"] = "COMPLETED"
    return [(i.seq, i.job.status.state) async for i in listener.items() if isinstance(i, JobChanged)]


async def test_a_stream_resumed_on_the_other_replica_goes_on_after_its_last_event(redis: Redis) -> None:
    backend = Scripted()
    async with trio.open_nursery() as nursery:
        a = await replica(nursery, backend, store(redis.url))
        b = await replica(nursery, backend, store(redis.url))
        with trio.fail_after(20):
            # A stream on A of its own keeps A watching; a client follows the job on A until it
            # runs and reconnects to B.
            backend.states["7"] = "PENDING"
            watching = await a.follow_job("fake", "alice", None, "7", None)
            on_b = await b.follow_job("fake", "alice", None, "7", await follow_until_running(a, backend))
            assert await finish(backend, on_b) == [(3, "COMPLETED")]  # not RUNNING again, COMPLETED not lost
            # the watcher on A numbered it alike; a stream resumed after the end gets nothing more
            mine = [(i.seq, i.job.status.state) async for i in watching.items() if isinstance(i, JobChanged)]
            assert mine[-1] == (3, "COMPLETED")
            on_b.close()
            again = await b.follow_job("fake", "alice", None, "7", 3)
            assert [i async for i in again.items() if isinstance(i, JobChanged)] == []
            again.close()
            watching.close()
        nursery.cancel_scope.cancel()


async def test_a_stream_resumed_on_a_replica_whose_polls_lag_waits_for_the_next_change(redis: Redis) -> None:
    seen_by_a, seen_by_b = Scripted(), Scripted()  # what each replica's polls see of one job
    async with trio.open_nursery() as nursery:
        a = await replica(nursery, seen_by_a, store(redis.url))
        b = await replica(nursery, seen_by_b, store(redis.url))
        seen_by_a.states["7"] = seen_by_b.states["7"] = "PENDING"
        with trio.fail_after(20):
            on_b = await b.follow_job("fake", "alice", None, "7", None)
            mine: list[tuple[int, str]] = []  # B's own stream, from the start

            async def collect() -> None:
                mine.extend([(i.seq, i.job.status.state) async for i in on_b.items() if isinstance(i, JobChanged)])

            nursery.start_soon(collect)
            on_a = await a.follow_job("fake", "alice", None, "7", None)
            items = on_a.items()
            assert (await next_change(items)).seq == 1
            seen_by_a.states["7"] = "RUNNING"  # B's polls do not show it yet
            assert (await next_change(items)).seq == 2
            await items.aclose()  # type: ignore[attr-defined]
            on_a.close()
            # Resumed on B after 2, a number B has not given yet: B sends nothing until it is past 2.
            resumed = await b.follow_job("fake", "alice", None, "7", 2)
            seen_by_b.states["7"] = "RUNNING"
            await trio.sleep(0.5)
            seen_by_a.exit_codes["7"] = seen_by_b.exit_codes["7"] = 0
            seen_by_b.states["7"] = "COMPLETED"
            got = [(i.seq, i.job.status.state) async for i in resumed.items() if isinstance(i, JobChanged)]
            assert got == [(3, "COMPLETED")]
            while len(mine) < 3:
                await trio.sleep(0.05)
            # B's own stream has the numbers A gave
            assert mine == [(1, "PENDING"), (2, "RUNNING"), (3, "COMPLETED")]
            resumed.close()
            on_b.close()
        nursery.cancel_scope.cancel()


async def test_redis_down_streams_number_locally_and_resume_on_the_same_replica(redis: Redis) -> None:
    backend = Scripted()
    shared = store(redis.url)
    async with trio.open_nursery() as nursery:
        a = await replica(nursery, backend, shared)
        redis.stop()
        with trio.fail_after(10):
            resumed = await a.follow_job("fake", "alice", None, "7", await follow_until_running(a, backend))
            assert await finish(backend, resumed) == [(3, "COMPLETED")]
            resumed.close()
        assert failures(shared, "events") >= 2
        nursery.cancel_scope.cancel()


async def test_a_stream_resumed_on_the_other_replica_gets_the_changes_it_missed(redis: Redis) -> None:
    backend = Scripted()
    async with trio.open_nursery() as nursery:
        a = await replica(nursery, backend, store(redis.url))
        b = await replica(nursery, backend, store(redis.url))
        backend.states["7"] = "PENDING"
        with trio.fail_after(20):
            watching = await a.follow_job("fake", "alice", None, "7", None)  # keeps A watching
            items = watching.items()
            assert (await next_change(items)).seq == 1  # the client had PENDING, and left
            backend.states["7"] = "RUNNING"
            assert (await next_change(items)).seq == 2
            backend.exit_codes["7"] = 0
            backend.states["7"] = "COMPLETED"
            assert (await next_change(items)).seq == 3
            await items.aclose()  # type: ignore[attr-defined]
            # It comes back to B after 1: RUNNING, which only A saw, then COMPLETED.
            resumed = await b.follow_job("fake", "alice", None, "7", 1)
            got = [(i.seq, i.job.status.state, i.job.job_id) async for i in resumed.items() if isinstance(i, JobChanged)]
            assert got == [(2, "RUNNING", "7"), (3, "COMPLETED", "7")]
            resumed.close()
            watching.close()
        nursery.cancel_scope.cancel()
