"""Job event streams over two replicas: a stream resumed with Last-Event-ID on the other replica
goes on after that event (the replicas number a job's changes alike, in Redis); with Redis
stopped, a stream resumed on the same replica still does, and nothing hangs.

Every job submitted here is cancelled at the end of its test.
"""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import httpx
import pytest
import trio

from ..events.sse import Event, events
from ..gateway import SYSTEM
from .cluster import Replicas

pytestmark = pytest.mark.testbed

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


async def collect(c: httpx.AsyncClient, job_id: str, last_id: str | None = None, *, until: str | None = None
                  ) -> list[Event]:  # fmt: skip
    """A job stream's events to its end (or to the first in state `until`: the client then leaves)."""
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    seen: list[Event] = []
    with warnings.catch_warnings():
        # Leaving mid-stream leaves httpx's and httpcore's body generators to the garbage collector.
        warnings.filterwarnings("ignore", "Async generator '(httpx|httpcore)\\.", ResourceWarning)
        async with c.stream("GET", f"/compute/{SYSTEM}/jobs/{job_id}/events", headers=headers) as response:
            assert response.status_code == 200, (await response.aread()).decode()
            async with aclosing(events(response)) as stream:
                async for e in stream:
                    seen.append(e)
                    if until is not None and e.data["status"]["state"] == until:
                        break
        gc.collect()
    return seen


def numbered(seen: list[Event]) -> list[tuple[int, str, int | None]]:
    return [(int(e.id or 0), e.data["status"]["state"], e.data["status"].get("exitCode")) for e in seen]


async def test_a_job_stream_resumed_on_the_other_replica_goes_on_after_its_last_event(replicas: Replicas) -> None:
    full: list[Event] = []
    async with client(replicas, 0) as a, client(replicas, 1) as b, submitted(a) as job_id:
        with trio.fail_after(180):
            async with trio.open_nursery() as nursery:

                async def whole() -> None:  # a stream on A from start to end, for comparison
                    full.extend(await collect(a, job_id))

                nursery.start_soon(whole)
                # A client follows the job on A until it runs, and comes back through B.
                before = await collect(a, job_id, until="RUNNING")
                resumed_at = before[-1].id
                assert resumed_at is not None
                after = await collect(b, job_id, resumed_at)
    print(f"\njob {job_id}: on A {numbered(before)}, resumed on B after {resumed_at}: {numbered(after)}; "
          f"a whole stream on A: {numbered(full)}")
    assert numbered(before)[0][1] == "PENDING"
    assert after, "the job's end was not sent"
    # None repeated: all after the id it resumed from, in order.
    ids = [int(e.id or 0) for e in after]
    assert ids == sorted(set(ids)) and ids[0] > int(resumed_at), numbered(after)
    # None lost: the states after that id are the whole stream's, numbered alike, to the same end.
    later = [n for n in numbered(full) if n[0] > int(resumed_at)]
    assert {n[1] for n in numbered(after)} == {n[1] for n in later}
    assert set(numbered(after)) <= set(numbered(full))
    assert numbered(after)[-1] == numbered(full)[-1] and numbered(after)[-1][1:] == ("COMPLETED", 0)


async def test_redis_stopped_a_stream_resumes_on_its_replica_and_nothing_hangs(replicas: Replicas) -> None:
    async with client(replicas, 0) as a:
        try:
            await trio.to_thread.run_sync(replicas.testbed.ctl, "down", "redis")
            t = time.monotonic()
            async with submitted(a) as job_id:
                with trio.fail_after(120):
                    before = await collect(a, job_id, until="RUNNING")
                    resumed_at = before[-1].id
                    assert resumed_at is not None
                    t_resumed = time.monotonic()
                    after = await collect(a, job_id, resumed_at)
                    t_end = time.monotonic()
            took = (t_resumed - t, t_end - t_resumed)
        finally:
            await trio.to_thread.run_sync(replicas.testbed.ctl, "up", "redis")
    print(f"\nRedis stopped: job {job_id} on A {numbered(before)}, resumed on A after {resumed_at}: "
          f"{numbered(after)} (submit to RUNNING {took[0]:.1f} s, resumed stream {took[1]:.1f} s)")
    ids = [int(e.id or 0) for e in after]
    assert ids and ids == sorted(set(ids)) and ids[0] > int(resumed_at), numbered(after)
    assert numbered(after)[-1][1] in FINISHED
