"""Recent submits in Redis: a job submitted through one replica is found through another at
once, a retry with the same Idempotency-Key on another replica replays; Redis down costs
only the other replicas' records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest
import trio

from f7tproxy.errors import NotFound
from f7tproxy.scheduler import MARKER_TTL, RECENT_TTL, JobQuery, JobService, Runner, SlurmBackend
from f7tproxy.shared import SharedStore, SharedSubmits

from ..scheduler.fakes import cluster
from ..scheduler.test_jobs import SPEC, Slurm
from .conftest import Redis, store

T = TypeVar("T")


def replica(s: SharedStore) -> JobService:
    submits = SharedSubmits(s, recent_ttl=RECENT_TTL, marker_ttl=MARKER_TTL, lock_ttl=5)
    return JobService(cluster(), SlurmBackend(cluster()), shared=submits)


@asynccontextmanager
async def two_replicas(redis: Redis) -> AsyncIterator[tuple[SharedStore, JobService, JobService]]:
    """Two job services, each with its own connection to one Redis (B's store is returned)."""
    a, b = store(redis.url), store(redis.url)
    async with trio.open_nursery() as nursery:
        await nursery.start(a.run)
        await nursery.start(b.run)
        yield b, replica(a), replica(b)
        nursery.cancel_scope.cancel()


async def test_a_job_submitted_through_one_replica_is_found_through_the_other(redis: Redis) -> None:
    async with two_replicas(redis) as (b, ja, jb):
        slurm = Slurm(visible=False)  # the scheduler does not list it yet
        done = await ja.submit(slurm.runner(), "u", SPEC)
        found = await jb.get_job(slurm.runner(), "u", done.job_id)
        assert [(j.job_id, j.name, j.user, j.status.state) for j in found] == [(done.job_id, "j", "u", "PENDING")]
        # another user does not see it
        assert await jb.get_jobs(slurm.runner(), JobQuery(user="v")) == []
        # once the scheduler lists it, the record is dropped everywhere
        slurm.visible = True
        assert [j.job_id for j in await jb.get_jobs(slurm.runner(), JobQuery(user="u"))] == [done.job_id]
        slurm.visible = False
        assert await ja.get_jobs(slurm.runner(), JobQuery(user="u")) != []  # A's own memory
        assert await replica(b).get_jobs(slurm.runner(), JobQuery(user="u")) == []


async def test_an_idempotency_key_retried_on_the_other_replica_replays(redis: Redis) -> None:
    async with two_replicas(redis) as (_b, ja, jb):
        slurm = Slurm(visible=False)  # not even the marker search would find it
        first = await ja.submit(slurm.runner(), "u", SPEC, "key-1")
        again = await jb.submit(slurm.runner(), "u", SPEC, "key-1")
        assert (again.job_id, again.replayed) == (first.job_id, True)
        assert len(slurm.jobs) == 1


async def test_concurrent_submits_with_one_key_on_two_replicas_make_one_job(redis: Redis) -> None:
    async with two_replicas(redis) as (_b, ja, jb):
        slurm = Slurm(visible=False)
        results = []

        async def submit(jobs: JobService) -> None:
            results.append(await jobs.submit(slurm.runner(), "u", SPEC, "key-2"))

        async with trio.open_nursery() as both:
            both.start_soon(submit, ja)
            both.start_soon(submit, jb)
        assert len(slurm.jobs) == 1
        assert sorted(r.replayed for r in results) == [False, True]
        assert len({r.job_id for r in results}) == 1


async def test_redis_down_submits_and_reads_still_work(redis: Redis) -> None:
    a = store(redis.url)
    async with trio.open_nursery() as nursery:
        await nursery.start(a.run)
        redis.stop()
        slurm = Slurm(visible=False)
        ja = replica(a)
        with trio.fail_after(5):
            done = await ja.submit(slurm.runner(), "u", SPEC, "key-3")
            assert [j.job_id for j in await ja.get_jobs(slurm.runner(), JobQuery(user="u"))] == [done.job_id]
            again = await ja.submit(slurm.runner(), "u", SPEC, "key-3")
        assert again.replayed and len(slurm.jobs) == 1
        nursery.cancel_scope.cancel()


async def test_the_metadata_of_a_job_submitted_through_one_replica_is_found_through_the_other(redis: Redis) -> None:
    async with two_replicas(redis) as (_b, ja, jb):
        slurm = Slurm(visible=False)  # the scheduler does not list it yet
        run = slurm.runner()

        async def leased(work: Callable[[Runner], Awaitable[T]]) -> T:
            return await work(run)

        done = await ja.submit(run, "u", SPEC)
        found = await jb.lookup_metadata("u", done.job_id, leased)
        assert [m.job_id for m in found] == [done.job_id]
        with pytest.raises(NotFound):  # another user's lookup does not find it
            await jb.lookup_metadata("v", done.job_id, leased)
