"""Job state and output as Server-Sent Events, against a real server and the testbed's Slurm.

Clients are plain httpx streams (tests/events/sse.py), as a portal or a script would write them.
Every job submitted here is cancelled at the end of its test.
"""

from __future__ import annotations

import calendar
import json
import pathlib
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import trio

from ..conftest import Testbed
from ..gateway import remote
from ..server_process import ServerProcess
from .conftest import SYSTEM, headers, start
from .sse import Event, events

pytestmark = pytest.mark.testbed

HOME = "/home/fireuser"
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


def submit(server: ServerProcess, script: str, *options: str, name: str = "f7t-events") -> str:
    body = {"job": {"working_directory": HOME, "name": name, "script": "#!/bin/bash\n" + script,
                    "scheduler_options": ["--time=00:05:00", *options]}}  # fmt: skip
    answer = httpx.post(f"{server.url}/compute/{SYSTEM}/jobs", json=body, headers=headers(server), timeout=60)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["jobId"])


@contextmanager
def jobs_cancelled_at_end(testbed: Testbed) -> Iterator[list[str]]:
    """The ids put in the list are cancelled at the end (over plain ssh: the server may be gone)."""
    ids: list[str] = []
    try:
        yield ids
    finally:
        if ids:
            remote(testbed, "scancel " + " ".join(ids))


@asynccontextmanager
async def stream(
    client: httpx.AsyncClient, job_id: str, what: str = "events", **kwargs: Any
) -> AsyncIterator[httpx.Response]:
    async with client.stream("GET", f"/compute/{SYSTEM}/jobs/{job_id}/{what}", **kwargs) as response:
        yield response


def client(server: ServerProcess, user: str = "fireuser") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers=headers(server, user),
                             timeout=httpx.Timeout(60, read=30), limits=httpx.Limits(max_connections=300))  # fmt: skip


def audit(tmp: pathlib.Path, since: float, action: str) -> int:
    """Commands named `action` in the server's audit log since wall-clock time `since`."""
    count = 0
    for line in (tmp / "audit.jsonl").read_text().splitlines():
        record = json.loads(line)
        at = calendar.timegm(time.strptime(record["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
        if record["action"] == action and at >= since - 1:
            count += 1
    return count


async def test_job_events_in_order_and_resume(server: ServerProcess, testbed: Testbed) -> None:
    with jobs_cancelled_at_end(testbed) as ids:
        job_id = submit(server, "sleep 2\n", "--begin=now+3")
        ids.append(job_id)
        seen: list[Event] = []
        async with client(server) as c, stream(c, job_id) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            with trio.fail_after(240):
                async for e in events(response):
                    seen.append(e)
        assert {e.kind for e in seen} == {"job"}
        states = [e.data["status"]["state"] for e in seen]
        assert states[0] == "PENDING" and states[-1] == "COMPLETED", states
        assert "RUNNING" in states and states.index("RUNNING") < states.index("COMPLETED"), states
        assert [int(e.id or 0) for e in seen] == sorted({int(e.id or 0) for e in seen}), "ids increase"
        first = seen[0].data
        assert first["jobId"] == job_id and first["name"] == "f7t-events" and first["user"] == "fireuser"
        assert seen[-1].data["status"]["exitCode"] == 0
        # Resuming after the last event sends nothing more; after an earlier one, only what came later.
        async with client(server) as c:
            async with stream(c, job_id, headers={"Last-Event-ID": seen[-1].id or ""}) as response:
                assert [e async for e in events(response)] == []
            async with stream(c, job_id, headers={"Last-Event-ID": seen[-2].id or ""}) as response:
                again = [e async for e in events(response)]
        assert [e.id for e in again] == [seen[-1].id] and again[0].data["status"]["state"] == "COMPLETED"


async def test_unknown_job_and_bad_stream_are_errors_before_the_stream(server: ServerProcess) -> None:
    async with client(server) as c:
        for path in (f"/compute/{SYSTEM}/jobs/99999999/events", f"/compute/{SYSTEM}/jobs/abc/events",
                     f"/compute/{SYSTEM}/jobs/99999999/output"):  # fmt: skip
            answer = await c.get(path)
            assert answer.status_code == 404, answer.text
            assert answer.json()["message"] == "Job not found." and answer.json()["errorType"] == "error"
        answer = await c.get(f"/compute/{SYSTEM}/jobs/1/output", params={"stream": "stdin"})
        assert answer.status_code == 400 and answer.json()["errorType"] == "validation"


async def test_output_lines_while_the_job_runs_and_resume(server: ServerProcess, testbed: Testbed) -> None:
    script = 'for i in 1 2 3 4 5; do echo "line $i"; sleep 1; done\necho "long $(printf "x%.0s" {1..5000})"\n'
    with jobs_cancelled_at_end(testbed) as ids:
        job_id = submit(server, script)
        ids.append(job_id)
        lines: list[tuple[float, Event]] = []
        states: list[tuple[float, str]] = []
        async with client(server) as c:

            async def follow_state() -> None:
                async with stream(c, job_id) as response:
                    async for e in events(response):
                        states.append((time.monotonic(), e.data["status"]["state"]))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow_state)
                with trio.fail_after(240):
                    async with stream(c, job_id, "output") as response:
                        async for e in events(response):
                            lines.append((time.monotonic(), e))
        texts = [e.data for _, e in lines if e.kind == "line"]
        assert texts[:5] == [f"line {i}" for i in range(1, 6)]
        # the long line came in pieces of at most max_line_length (4096) bytes
        assert "".join(texts[5:]) == "long " + "x" * 5000 and len(texts) == 7
        assert lines[-1][1].kind == "end"
        ended = next(t for t, state in states if state == "COMPLETED")
        assert lines[0][0] < ended - 2, "the first line came while the job ran"
        # resume after line 2: lines 3.. again, nothing before
        second = next(e for _, e in lines if e.data == "line 2")
        async with client(server) as c, stream(c, job_id, "output", headers={"Last-Event-ID": second.id or ""}) as r:
            rest = [e.data for e in [e async for e in events(r)] if e.kind == "line"]
        assert rest == texts[2:]


async def test_cancelled_job_ends_its_stream_with_cancelled(server: ServerProcess, testbed: Testbed) -> None:
    with jobs_cancelled_at_end(testbed) as ids:
        job_id = submit(server, "sleep 300\n")
        ids.append(job_id)
        async with client(server) as c, stream(c, job_id) as response:
            seen: list[str] = []
            with trio.fail_after(120):
                async for e in events(response):
                    seen.append(e.data["status"]["state"])
                    if len(seen) == 1:
                        assert (await c.delete(f"/compute/{SYSTEM}/jobs/{job_id}")).status_code == 204
        assert seen[-1] == "CANCELLED"


async def test_many_listeners_cost_one_squeue_per_interval(server: ServerProcess, testbed: Testbed) -> None:
    """1, 10, 50 and 100 listeners of one user on 20 jobs: one squeue per interval whatever their
    number (counted in the server's audit log), and no sacct while no job has ended."""
    tmp = server.config.parent
    counts = {}
    with jobs_cancelled_at_end(testbed) as ids:
        for n in range(20):
            ids.append(submit(server, "sleep 300\n", "--begin=now+600", name=f"f7t-events-{n}"))
        for listeners in (1, 10, 50, 100):
            opened = trio.Event()
            started = 0
            async with client(server) as c:

                async def listen(job_id: str) -> None:
                    nonlocal started
                    async with stream(c, job_id) as response:
                        assert response.status_code == 200
                        async for _ in events(response):
                            started += 1
                            if started == listeners:
                                opened.set()

                async with trio.open_nursery() as nursery:
                    for n in range(listeners):
                        nursery.start_soon(listen, ids[n % 20])
                    with trio.fail_after(60):
                        await opened.wait()
                    since, t0 = time.time(), trio.current_time()
                    await trio.sleep(8)
                    window = trio.current_time() - t0
                    nursery.cancel_scope.cancel()
            await trio.sleep(1.5)  # the audit lines of commands cancelled with the last listener
            counts[listeners] = (audit(tmp, since, "squeue"), audit(tmp, since, "sacct"), round(window, 1))
        print("listeners: (squeue, sacct, seconds)", counts)
        for squeues, saccts, window in counts.values():
            assert 1 <= squeues <= window / 1.0 + 3, counts  # interval 1 s
            assert saccts == 0, counts
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'f7tproxy_watcher_commands_total{program="squeue",system="cluster-slurm"}' in metrics


async def test_streams_close_when_the_last_listener_leaves(server: ServerProcess, testbed: Testbed) -> None:
    with jobs_cancelled_at_end(testbed) as ids:
        job_id = submit(server, "sleep 300\n", "--begin=now+600")
        ids.append(job_id)
        async with client(server) as c:
            # Leave by cancelling the read: it ends every one of httpx's iterators inside it.
            with trio.CancelScope() as leave:
                async with stream(c, job_id) as response:
                    async for _ in events(response):
                        metrics = httpx.get(f"{server.url}/metrics").text
                        assert 'f7tproxy_event_streams{kind="job",system="cluster-slurm"} 1.0' in metrics
                        assert 'f7tproxy_job_watchers{system="cluster-slurm"} 1.0' in metrics
                        leave.cancel()
        with trio.fail_after(10):
            while 'f7tproxy_job_watchers{system="cluster-slurm"} 0.0' not in httpx.get(f"{server.url}/metrics").text:
                await trio.sleep(0.2)


def test_cap_keepalive_and_shutdown(testbed: Testbed, tmp_path: pathlib.Path) -> None:
    """A small server: the per-user cap (429 + Retry-After), keep-alive comments, admin snapshot,
    and on SIGTERM a final `shutdown` event on every stream, within the grace period."""
    with start(tmp_path, testbed, max_streams_per_user=2, keepalive=1) as server:
        with jobs_cancelled_at_end(testbed) as ids:
            job_id = submit(server, "sleep 300\n", "--begin=now+600")
            ids.append(job_id)
            results: dict[str, Any] = {}

            async def main() -> None:
                async with client(server) as c:

                    async def listen(name: str) -> None:
                        got: list[Event] = []
                        comments: list[str] = []
                        async with stream(c, job_id) as response:
                            async for e in events(response, comments):
                                got.append(e)
                        results[name] = (got, comments, time.monotonic())

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(listen, "a")
                        nursery.start_soon(listen, "b")
                        await trio.sleep(3)
                        refused = await c.get(f"/compute/{SYSTEM}/jobs/{job_id}/events")
                        results["refused"] = (refused.status_code, refused.headers.get("Retry-After"))
                        snapshot = await admin_snapshot(server.config.parent / "admin.sock")
                        results["streams"] = snapshot["result"]["streams"]
                        results["stop"] = time.monotonic()
                        server.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]

            trio.run(main)
            assert results["refused"][0] == 429 and int(results["refused"][1]) >= 1
            (entry,) = results["streams"]
            assert entry["user"] == "fireuser" and entry["job_streams"] == 2 and entry["jobs"] == 1
            for name in ("a", "b"):
                got, comments, ended = results[name]
                assert [e.kind for e in got] == ["job", "shutdown"], got
                assert "keep-alive" in comments
                assert ended - results["stop"] < 2 + 1  # shutdown_grace is 2 s
            assert server.proc.wait(timeout=30) == 0  # type: ignore[union-attr]


async def admin_snapshot(path: pathlib.Path) -> dict[str, Any]:
    with trio.fail_after(10):
        sock = await trio.open_unix_socket(str(path))
        async with sock:
            await sock.send_all(b'{"cmd": "snapshot"}\n')
            data = b""
            while not data.endswith(b"\n"):
                data += await sock.receive_some(1 << 20)
    answer: dict[str, Any] = json.loads(data)
    return answer
