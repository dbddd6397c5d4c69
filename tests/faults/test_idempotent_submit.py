"""An Idempotency-Key submit whose SSH connection dies while sbatch runs, retried: exactly one job."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import time
import uuid

import httpx
import pytest
import trio

from f7tproxy.scheduler._jobs import JobService

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote
from .conftest import FIGURES, quiet_processes, settled_pool

pytestmark = [pytest.mark.testbed, pytest.mark.faults]


def _catch(name: str, ctld: int, limit: float = 20.0) -> int | None:
    """Poll /proc tightly for a process called `name`; freeze slurmctld the moment it appears.

    sbatch lives ~0.1 s: frozen, slurmctld leaves it waiting for its answer. Returns its pid.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        for comm in pathlib.Path("/proc").glob("[0-9]*/comm"):
            with contextlib.suppress(OSError):
                if comm.read_text().strip() == name:
                    os.kill(ctld, signal.SIGSTOP)
                    return int(comm.parent.name)
    return None


def _session_of(pid: int) -> int:
    """The sshd session process above `pid` (the one holding the SSH connection)."""
    while pid > 1:
        comm = pathlib.Path(f"/proc/{pid}/comm").read_text().strip()
        if comm == "sshd":
            return pid
        pid = int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    raise AssertionError("no sshd session above the command")


def _marked_jobs(testbed: Testbed, marker: str) -> list[str]:
    out = remote(testbed, "squeue --noheader --states=all --user=fireuser --Format=JobID:20,Comment:80")
    return [line.split()[0] for line in out.splitlines() if marker in line]


async def test_submit_retried_after_the_connection_died_makes_one_job(
    testbed: Testbed, gateway: Gateway, tmp_path: pathlib.Path
) -> None:
    key = f"fault-{uuid.uuid4().hex}"
    marker = JobService.marker(SYSTEM, "fireuser", key)
    body = {"job": {"name": "fault-idem", "workingDirectory": "/home/fireuser",
                    "script": "#!/bin/bash\nsleep 120\n"}}  # fmt: skip
    headers = {"Authorization": f"Bearer {gateway.token()}", "Idempotency-Key": key}
    ctld = int((testbed.dir / "slurm" / "run" / "slurmctld.pid").read_text().split()[0])
    answers: list[tuple[int | str, float]] = []

    async def submit(client: httpx.AsyncClient) -> None:
        t0 = trio.current_time()
        try:
            r = await client.post(f"/compute/{SYSTEM}/jobs", json=body, headers=headers)
            answers.append((r.status_code, trio.current_time() - t0))
        except httpx.TransportError as exc:
            answers.append((type(exc).__name__, trio.current_time() - t0))

    killed = False
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            try:
                async with trio.open_nursery() as n:
                    n.start_soon(submit, client)
                    # slurmctld frozen as sbatch starts: sbatch waits for its answer
                    sbatch = await trio.to_thread.run_sync(lambda: _catch("sbatch", ctld))
                    assert sbatch is not None, "no sbatch seen"
                    await trio.sleep(0.5)
                    os.kill(_session_of(sbatch), signal.SIGKILL)  # the SSH connection dies mid-sbatch
                    killed = True
                    await trio.sleep(0.5)
                    os.kill(ctld, signal.SIGCONT)
            finally:
                os.kill(ctld, signal.SIGCONT)
            first = answers[0]
            # retried by the client, with the same key, until it is answered 201 (bounded)
            with trio.fail_after(60):
                while not answers or answers[-1][0] != 201:
                    await trio.sleep(1.0)
                    await submit(client)
        jobs = await trio.to_thread.run_sync(lambda: _marked_jobs(testbed, marker))
        fig = {"test": "Idempotency-Key submit, connection killed mid-sbatch", "first_answer": first[0],
               "first_took": round(first[1], 3), "retries": len(answers) - 1,
               "answers": [a for a, _ in answers], "jobs_with_marker": len(jobs), "duplicates": max(0, len(jobs) - 1)}
        FIGURES.append(fig)
        print(fig)
        assert killed
        assert first[0] in (424, 503, 408), fig  # the connection died: never a bare 500, never a hang
        assert len(jobs) == 1, fig  # exactly one job
    finally:
        with contextlib.suppress(Exception):
            await trio.to_thread.run_sync(lambda: remote(testbed, "scancel --name=fault-idem --user=fireuser; true"))
    await settled_pool(tmp_path)
    assert await quiet_processes() == []
