"""An Idempotency-Key submit whose SSH connection dies while sbatch runs, retried: exactly one job."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import time
import uuid
from typing import Any

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


_ATTEMPTS = 3
"""Tries at catching sbatch while it waits for slurmctld (it can get its answer first)."""


async def test_submit_retried_after_the_connection_died_makes_one_job(
    testbed: Testbed, gateway: Gateway, tmp_path: pathlib.Path
) -> None:
    body = {"job": {"name": "fault-idem", "workingDirectory": "/home/fireuser",
                    "script": "#!/bin/bash\nsleep 120\n"}}  # fmt: skip
    ctld = int((testbed.dir / "slurm" / "run" / "slurmctld.pid").read_text().split()[0])
    escaped = 0
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            for _ in range(_ATTEMPTS):
                key = f"fault-{uuid.uuid4().hex}"
                headers = {"Authorization": f"Bearer {gateway.token()}", "Idempotency-Key": key}
                answers: list[tuple[int | str, float]] = []
                if await _kill_mid_sbatch(client, body, headers, ctld, answers):
                    break
                escaped += 1  # sbatch had its answer before slurmctld froze: nothing was tested; again
            else:
                pytest.fail(f"sbatch ended before slurmctld was frozen in all {_ATTEMPTS} tries")
            first = answers[0]
            # retried by the client, with the same key, until it is answered 201 (bounded)
            with trio.fail_after(60):
                while not answers or answers[-1][0] != 201:
                    await trio.sleep(1.0)
                    await _submit(client, body, headers, answers)
        marker = JobService.marker(SYSTEM, "fireuser", key)
        jobs = await trio.to_thread.run_sync(lambda: _marked_jobs(testbed, marker))
        fig = {"test": "Idempotency-Key submit, connection killed mid-sbatch", "first_answer": first[0],
               "first_took": round(first[1], 3), "retries": len(answers) - 1, "tries_escaped": escaped,
               "answers": [a for a, _ in answers], "jobs_with_marker": len(jobs), "duplicates": max(0, len(jobs) - 1)}
        FIGURES.append(fig)
        print(fig)
        assert first[0] in (424, 503, 408), fig  # the connection died: never a bare 500, never a hang
        assert len(jobs) == 1, fig  # exactly one job
    finally:
        with contextlib.suppress(Exception):
            await trio.to_thread.run_sync(lambda: remote(testbed, "scancel --name=fault-idem --user=fireuser; true"))
    await settled_pool(tmp_path)
    assert await quiet_processes() == []


async def _submit(client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str],
                  answers: list[tuple[int | str, float]]) -> None:  # fmt: skip
    t0 = trio.current_time()
    try:
        r = await client.post(f"/compute/{SYSTEM}/jobs", json=body, headers=headers)
        answers.append((r.status_code, trio.current_time() - t0))
    except httpx.TransportError as exc:
        answers.append((type(exc).__name__, trio.current_time() - t0))


async def _kill_mid_sbatch(client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], ctld: int,
                           answers: list[tuple[int | str, float]]) -> bool:  # fmt: skip
    """Submit; freeze slurmctld as sbatch starts and kill the SSH connection under it.

    False if sbatch was gone once slurmctld froze (it had its answer first): then the
    submit simply succeeded, and nothing was killed.
    """
    try:
        async with trio.open_nursery() as n:
            n.start_soon(_submit, client, body, headers, answers)
            # slurmctld frozen as sbatch starts: sbatch waits for its answer
            sbatch = await trio.to_thread.run_sync(lambda: _catch("sbatch", ctld))
            assert sbatch is not None, "no sbatch seen"
            await trio.sleep(0.5)
            session = _session_or_none(sbatch)
            if session is None:
                os.kill(ctld, signal.SIGCONT)
                return False
            os.kill(session, signal.SIGKILL)  # the SSH connection dies mid-sbatch
            await trio.sleep(0.5)
            os.kill(ctld, signal.SIGCONT)
    finally:
        os.kill(ctld, signal.SIGCONT)
    return True


def _session_or_none(pid: int) -> int | None:
    """`_session_of(pid)`, or None if the process (or one above it) has ended meanwhile."""
    try:
        return _session_of(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None
