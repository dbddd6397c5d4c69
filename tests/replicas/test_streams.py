"""Job event streams over two replicas: a stream resumed with Last-Event-ID on the other replica
goes on after that event (the replicas number a job's changes alike, in Redis); with Redis
stopped, a stream resumed on the same replica still does, and nothing hangs.

Every job submitted here is cancelled at the end of its test.
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import httpx
import pytest
import trio

from ..events.sse import Event, events
from ..gateway import SYSTEM
from .cluster import Replicas

pytestmark = [
    pytest.mark.testbed,
    # A client leaving mid-stream leaves httpx's and httpcore's body generators to the garbage
    # collector, which may get to them after `collect` returned.
    pytest.mark.filterwarnings("ignore:Async generator '(httpx|httpcore)\\.:ResourceWarning"),
]

FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


def client(r: Replicas, i: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=r.url(i), headers={"Authorization": f"Bearer {r.token()}"},
                             timeout=httpx.Timeout(60, read=30))  # fmt: skip


@asynccontextmanager
async def submitted(c: httpx.AsyncClient) -> AsyncIterator[str]:
    """A job that waits 4 s, runs 6 s and ends; cancelled at the end if it has not."""
    body = {"job": {"working_directory": "/home/fireuser", "name": "replica-events", "script": "#!/bin/bash\nsleep 6\n",
                    "scheduler_options": ["--time=00:02:00", "--begin=now+4"]}}  # fmt: skip
    answer = await c.post(f"/compute/{SYSTEM}/jobs", json=body)
    assert answer.status_code == 201, answer.text
    job_id = str(answer.json()["jobId"])
    try:
        yield job_id
    finally:
        with trio.move_on_after(30) as cleanup:
            cleanup.shield = True
            await c.delete(f"/compute/{SYSTEM}/jobs/{job_id}")


async def collect(r: Replicas, i: int, job_id: str, last_id: str | None = None, *, until: str | None = None
                  ) -> list[Event]:  # fmt: skip
    """A job stream's events from replica `i` to its end (or to the first in state `until`: the
    client then leaves), on a client of its own."""
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    seen: list[Event] = []
    path = f"/compute/{SYSTEM}/jobs/{job_id}/events"
    async with client(r, i) as c, c.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        async with aclosing(events(response)) as stream:  # type: ignore[type-var]
            async for e in stream:
                seen.append(e)
                if until is not None and e.data["status"]["state"] == until:
                    break
    gc.collect()  # the body generators a client leaving mid-stream left, in this module's tests
    return seen


def numbered(seen: list[Event]) -> list[tuple[int, str, int | None]]:
    return [(int(e.id or 0), e.data["status"]["state"], e.data["status"].get("exitCode")) for e in seen]


async def resumed_on_b(r: Replicas, until: str, *, wait_for_the_end: bool
                       ) -> tuple[str, list[Event], list[Event], list[Event]]:  # fmt: skip
    """A client follows a new job on A until state `until` and resumes on B with its last id (at
    once, or after the job ended), while another client follows it on A from start to end.
    The job's id, then the events: the client's on A, on B, the other client's."""
    full: list[Event] = []
    async with client(r, 0) as a, submitted(a) as job_id:
        with trio.fail_after(180):
            async with trio.open_nursery() as nursery:

                async def whole() -> None:
                    full.extend(await collect(r, 0, job_id))

                nursery.start_soon(whole)
                before = await collect(r, 0, job_id, until=until)
                assert before[-1].id is not None
                if not wait_for_the_end:
                    after = await collect(r, 1, job_id, before[-1].id)
            if wait_for_the_end:
                after = await collect(r, 1, job_id, before[-1].id)
    print(f"\njob {job_id}: on A {numbered(before)}, resumed on B after {before[-1].id}"
          f"{' once it ended' if wait_for_the_end else ''}: {numbered(after)}; a whole stream on A: {numbered(full)}")
    return job_id, before, after, full


async def test_a_job_stream_resumed_on_the_other_replica_goes_on_after_its_last_event(replicas: Replicas) -> None:
    _, before, after, full = await resumed_on_b(replicas, "RUNNING", wait_for_the_end=False)
    resumed_at = int(before[-1].id or 0)
    assert numbered(before)[0][1] == "PENDING"
    assert after, "the job's end was not sent"
    # None repeated: all after the id it resumed from, in order.
    ids = [int(e.id or 0) for e in after]
    assert ids == sorted(set(ids)) and ids[0] > resumed_at, numbered(after)
    # None lost: the states after that id are the whole stream's, numbered alike, to the same end.
    later = [n for n in numbered(full) if n[0] > resumed_at]
    assert {n[1] for n in numbered(after)} == {n[1] for n in later}
    assert set(numbered(after)) <= set(numbered(full))
    assert numbered(after)[-1] == numbered(full)[-1] and numbered(after)[-1][1:] == ("COMPLETED", 0)


async def test_a_job_stream_resumed_on_the_other_replica_after_the_end_gets_what_it_missed(
    replicas: Replicas,
) -> None:
    _, before, after, full = await resumed_on_b(replicas, "PENDING", wait_for_the_end=True)
    assert numbered(after) == [n for n in numbered(full) if n[0] > int(before[-1].id or 0)]
    assert [n[1] for n in numbered(after)][-1] == "COMPLETED" and "RUNNING" in [n[1] for n in numbered(after)]


async def test_redis_stopped_a_stream_resumes_on_its_replica_and_nothing_hangs(replicas: Replicas) -> None:
    async with client(replicas, 0) as a:
        try:
            await trio.to_thread.run_sync(replicas.testbed.ctl, "down", "redis")
            t = time.monotonic()
            async with submitted(a) as job_id:
                with trio.fail_after(120):
                    before = await collect(replicas, 0, job_id, until="RUNNING")
                    resumed_at = before[-1].id
                    assert resumed_at is not None
                    t_resumed = time.monotonic()
                    after = await collect(replicas, 0, job_id, resumed_at)
                    t_end = time.monotonic()
            took = (t_resumed - t, t_end - t_resumed)
        finally:
            await trio.to_thread.run_sync(replicas.testbed.ctl, "up", "redis")
    print(f"\nRedis stopped: job {job_id} on A {numbered(before)}, resumed on A after {resumed_at}: "
          f"{numbered(after)} (submit to RUNNING {took[0]:.1f} s, resumed stream {took[1]:.1f} s)")
    ids = [int(e.id or 0) for e in after]
    assert ids and ids == sorted(set(ids)) and ids[0] > int(resumed_at), numbered(after)
    assert numbered(after)[-1][1] in FINISHED
