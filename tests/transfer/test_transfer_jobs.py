"""Transfer jobs (mv, cp, rm, compress, extract) submitted to the testbed's Slurm, end to end."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote

pytestmark = pytest.mark.testbed
TRANSFER = f"/filesystem/{SYSTEM}/transfer"


def wait_done(c: httpx.Client, job: dict[str, Any], timeout: float = 180) -> str:
    """Poll the compute API until the transfer job has finished; its final state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = c.get(f"/compute/{SYSTEM}/jobs/{job['jobId']}")
        if r.status_code == 200:
            state = r.json()["jobs"][0]["status"]["state"]
            if state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                return str(state)
        time.sleep(0.5)
    raise AssertionError(f"transfer job {job['jobId']} did not finish in {timeout} s")


def output_log(c: httpx.Client, job: dict[str, Any]) -> str:
    r = c.get(f"/filesystem/{SYSTEM}/ops/view", params={"path": job["logs"]["outputLog"]})
    assert r.status_code == 200, r.text
    return str(r.json()["output"])


def test_transfer_job_shapes_and_runs(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    remote(testbed, f"mkdir -p {workdir}/src/d && printf one > {workdir}/src/a && printf two > {workdir}/src/d/b")
    with gateway.http() as c:
        r = c.post(f"{TRANSFER}/cp", json={"sourcePath": f"{workdir}/src", "targetPath": f"{workdir}/copy",
                                           "dereference": False, "account": "proj1"})  # fmt: skip
        assert r.status_code == 201, r.text
        job = r.json()["transferJob"]
        assert set(job) == {"jobId", "system", "workingDirectory", "logs"}
        assert job["system"] == SYSTEM and job["workingDirectory"] == "/home/fireuser"
        assert set(job["logs"]) == {"outputLog", "errorLog"}
        assert job["logs"]["outputLog"].startswith("/home/fireuser/.f7t_file_handling_job_")
        assert wait_done(c, job) == "COMPLETED"
        assert "Files were successfully copied." in output_log(c, job)
        assert remote(testbed, f"cat {workdir}/copy/a {workdir}/copy/d/b") == "onetwo"

        r = c.post(f"{TRANSFER}/mv", json={"sourcePath": f"{workdir}/copy", "targetPath": f"{workdir}/moved"})
        assert r.status_code == 201
        job = r.json()["transferJob"]
        assert wait_done(c, job) == "COMPLETED" and "Files were successfully moved." in output_log(c, job)

        r = c.post(f"{TRANSFER}/compress", json={"sourcePath": f"{workdir}/moved", "targetPath": f"{workdir}/m.tar.xz",
                                                 "compression": "xz"})  # fmt: skip
        assert r.status_code == 201
        job = r.json()["transferJob"]
        assert wait_done(c, job) == "COMPLETED" and "Files were successfully compressed." in output_log(c, job)

        remote(testbed, f"mkdir {workdir}/ex")
        r = c.post(f"{TRANSFER}/extract", json={"sourcePath": f"{workdir}/m.tar.xz", "targetPath": f"{workdir}/ex",
                                                "compression": "xz"})  # fmt: skip
        assert r.status_code == 201
        job = r.json()["transferJob"]
        assert wait_done(c, job) == "COMPLETED" and "Files were successfully extracted." in output_log(c, job)
        assert remote(testbed, f"cat {workdir}/ex/moved/d/b") == "two"

        r = c.delete(f"{TRANSFER}/rm", params={"path": f"{workdir}/moved"})
        assert r.status_code == 200, r.text
        job = r.json()["transferJob"]
        assert wait_done(c, job) == "COMPLETED" and "Files were successfully deleted." in output_log(c, job)
        assert remote(testbed, f"ls {workdir}").split() == ["ex", "m.tar.xz", "src"]


def test_failed_transfer_job_logs_no_success_line(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    # A source whose name is a success line: the failure must not read as success.
    name = "Files were successfully copied."
    with gateway.http() as c:
        r = c.post(f"{TRANSFER}/cp", json={"sourcePath": f"{workdir}/{name}", "targetPath": f"{workdir}/x"})
        assert r.status_code == 201
        job = r.json()["transferJob"]
        assert wait_done(c, job) == "FAILED"
        assert "successfully" not in output_log(c, job)
        err = c.get(f"/filesystem/{SYSTEM}/ops/view", params={"path": job["logs"]["errorLog"]}).json()["output"]
        assert "No such file or directory" in err


def test_hostile_names_in_transfer_jobs(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    names = ["it's $(touch pwned) `id`", "new\n#SBATCH --account=proj2\nline", "-rf", "&amp;<b>"]
    with gateway.http() as c:
        for i, name in enumerate(names):
            c.post(f"/filesystem/{SYSTEM}/ops/upload", params={"path": workdir}, files={"file": (f"f{i}", b"data")})
            r = c.post(f"{TRANSFER}/mv", json={"sourcePath": f"{workdir}/f{i}", "targetPath": f"{workdir}/{name}"})
            assert r.status_code == 201, r.text
            job = r.json()["transferJob"]
            assert wait_done(c, job) == "COMPLETED", output_log(c, job)
            assert c.get(f"/filesystem/{SYSTEM}/ops/view", params={"path": f"{workdir}/{name}"}).json() == {
                "output": "data"}
            jobs = c.get(f"/compute/{SYSTEM}/jobs/{job['jobId']}").json()["jobs"]
            assert jobs[0]["account"] in (None, "proj1")
    listing = remote(testbed, f"find {workdir} -mindepth 1 -printf x | wc -c")
    assert listing.strip() == str(len(names))
    assert remote(testbed, "ls /home/fireuser/pwned 2>/dev/null; true") == ""


def test_transfer_input_errors(gateway: Gateway) -> None:
    with gateway.http() as c:
        assert c.post(f"{TRANSFER}/cp", json={"sourcePath": "/etc/passwd", "targetPath": "/scratch/x"}).status_code == 400
        assert c.post(f"{TRANSFER}/mv", json={"sourcePath": "/scratch/a"}).status_code == 400
        r = c.post(f"{TRANSFER}/mv", json={"sourcePath": "/scratch/a", "targetPath": "/scratch/b", "account": "a;b"})
        assert r.status_code == 400
        r = c.post(f"{TRANSFER}/upload", json={"path": "/scratch/x", "transfer_directives": {
            "transfer_method": "wormhole", "file_size": 3}})  # fmt: skip
        assert r.status_code == 400 and r.json()["message"] == "Requested transfer method is not available."
        assert c.delete(f"{TRANSFER}/rm", params={"path": "/home"}).status_code == 400
