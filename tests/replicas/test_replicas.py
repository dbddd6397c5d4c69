"""Two replicas behind HAProxy with shared state in Redis (the testbed's `redis` and `lb`).

Bounded in time: each load runs at most ~20 s with 50 clients and a 15 s timeout per
request. Run with -s to see the counts.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import httpx
import pytest
import trio

from ..gateway import SYSTEM
from .cluster import BOTH, LIMIT_BURST, LIMITED_USER, Replicas
from .load import Load

pytestmark = pytest.mark.testbed

# status (no SSH), and a directory listing and a job listing (SSH and Slurm), round-robin
PATHS = ["/status/systems", f"/filesystem/{SYSTEM}/ops/ls?path=/home/fireuser",
         "/status/systems", f"/compute/{SYSTEM}/jobs"]  # fmt: skip


def client(r: Replicas, i: int, user: str = "fireuser") -> httpx.Client:
    return httpx.Client(base_url=r.url(i), headers={"Authorization": f"Bearer {r.token(user)}"}, timeout=60)


def submit(c: httpx.Client, key: str | None = None) -> httpx.Response:
    body = {"job": {"working_directory": "/home/fireuser", "script": "#!/bin/bash\nsleep 60\n", "name": "replicas"}}
    return c.post(f"/compute/{SYSTEM}/jobs", json=body, headers={"Idempotency-Key": key} if key else {})


def test_a_users_rate_limit_holds_across_replicas(replicas: Replicas) -> None:
    a, b = client(replicas, 0, LIMITED_USER), client(replicas, 1, LIMITED_USER)
    with a, b:
        codes = [(a if i % 2 == 0 else b).get("/status/systems").status_code for i in range(LIMIT_BURST + 4)]
    print(f"\nrate limit {LIMIT_BURST} over two replicas, alternating: {codes}")
    assert codes == [200] * LIMIT_BURST + [429] * 4


def test_a_job_submitted_through_one_replica_is_found_at_once_through_the_other(replicas: Replicas) -> None:
    with client(replicas, 0) as a, client(replicas, 1) as b:
        r = submit(a)
        assert r.status_code == 201, r.text
        job_id = str(r.json()["jobId"])
        try:
            found = b.get(f"/compute/{SYSTEM}/jobs/{job_id}")
            assert found.status_code == 200, found.text
            assert [str(j["jobId"]) for j in found.json()["jobs"]] == [job_id]
            metadata = b.get(f"/compute/{SYSTEM}/jobs/{job_id}/metadata")
            assert metadata.status_code == 200, metadata.text
            assert [str(j["jobId"]) for j in metadata.json()["jobs"]] == [job_id]
        finally:
            assert b.delete(f"/compute/{SYSTEM}/jobs/{job_id}").status_code in (200, 204)


def test_an_idempotency_key_retried_on_the_other_replica_returns_the_same_job(replicas: Replicas) -> None:
    key = f"replicas-{time.time_ns()}"
    with client(replicas, 0) as a, client(replicas, 1) as b:
        first = submit(a, key)
        assert first.status_code == 201, first.text
        job_id = str(first.json()["jobId"])
        try:
            again = submit(b, key)
            assert again.status_code in (200, 201), again.text
            assert str(again.json()["jobId"]) == job_id
        finally:
            a.delete(f"/compute/{SYSTEM}/jobs/{job_id}")


async def test_a_replica_killed_under_load_costs_at_most_its_requests_in_flight(replicas: Replicas) -> None:
    load = Load(replicas.lb_url, replicas.token(), PATHS, clients=50)
    killed_at = 0.0
    on_it = 0

    async def kill_later() -> None:
        nonlocal killed_at, on_it
        await trio.sleep(4)
        on_it = await trio.to_thread.run_sync(replicas.in_flight, 0)
        killed_at = time.monotonic()
        await trio.to_thread.run_sync(replicas.stop, 0, signal.SIGKILL)
        await trio.sleep(6)
        load.stop.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(kill_later)
        await load.run(30)
    in_flight = load.in_flight(killed_at)
    failed = load.failed()
    after = load.failed(since=killed_at)
    print(f"\nSIGKILL of one replica under 50 clients: {load.summary()}; in flight at the kill: {in_flight} "
          f"({on_it} on the killed replica, as HAProxy counted just before), failed: {len(failed)} "
          f"(started after the kill: {len(after)})")
    try:
        assert not after, [o.error for o in after][:5]
        assert len(failed) <= in_flight, [o.error for o in failed][:5]
    finally:
        await trio.to_thread.run_sync(replicas.start, 0)
        await trio.to_thread.run_sync(replicas.wait_balanced, BOTH)


async def test_a_rolling_restart_under_load_fails_no_request(replicas: Replicas) -> None:
    load = Load(replicas.lb_url, replicas.token(), PATHS, clients=50)
    took: list[float] = []

    async def roll() -> None:
        await trio.sleep(2)
        for i in (0, 1):
            t = time.monotonic()
            code = await trio.to_thread.run_sync(replicas.stop, i)
            assert code == 0
            await trio.to_thread.run_sync(replicas.start, i)
            await trio.to_thread.run_sync(replicas.wait_balanced, BOTH)
            took.append(time.monotonic() - t)
        await trio.sleep(1)
        load.stop.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(roll)
        await load.run(120)
    failed = load.failed()
    print(f"\nrolling restart of both replicas under 50 clients ({', '.join(f'{t:.1f} s' for t in took)}): "
          f"{load.summary()}; failed: {len(failed)}")
    assert len(took) == 2
    assert not failed, [o.error for o in failed][:5]


async def test_redis_stopped_under_load_no_hang_and_no_5xx(replicas: Replicas) -> None:
    load = Load(replicas.lb_url, replicas.token(), PATHS, clients=50)
    stopped: list[float] = []

    async def stop_redis() -> None:
        await trio.sleep(3)
        stopped.append(time.monotonic())
        await trio.to_thread.run_sync(replicas.testbed.ctl, "down", "redis")
        await trio.sleep(5)
        load.stop.set()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stop_redis)
            await load.run(30)
    finally:
        await trio.to_thread.run_sync(replicas.testbed.ctl, "up", "redis")
    during = [o for o in load.outcomes if o.started >= stopped[0]]
    slowest = max(o.ended - o.started for o in during)
    failed = load.failed()
    print(f"\nRedis stopped under 50 clients: {load.summary()}; {len(during)} requests after the stop, "
          f"slowest {slowest:.2f} s; failed: {len(failed)}")
    assert during and not failed, [o.error for o in failed][:5]
    assert slowest < 10


def wrk(url: str, token: str, seconds: int = 6) -> float:
    """Requests per second wrk measures with 50 connections (2 threads) on `url`."""
    done = subprocess.run(
        ["wrk", "-t2", "-c50", f"-d{seconds}s", "--timeout", "10s", "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, timeout=seconds + 30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    assert found is not None and "Non-2xx" not in done.stdout, done.stdout
    return float(found.group(1))


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (Debian package wrk)")
def test_throughput_of_two_replicas_and_of_one(replicas: Replicas) -> None:
    url = f"{replicas.lb_url}/status/systems"
    token = replicas.token()
    two = wrk(url, token)
    replicas.balancer("disable server replicas/replica2")
    try:
        replicas.wait_balanced({"replica1"})
        one = wrk(url, token)
    finally:
        replicas.balancer("enable server replicas/replica2")
        replicas.wait_balanced(BOTH)
    print(f"\nthroughput through HAProxy, 50 connections, GET /status/systems: two replicas {two:.0f} req/s, "
          f"one replica {one:.0f} req/s ({two / one:.2f}x) on {os.cpu_count()} cores")
    assert two > 0 and one > 0
