"""Staged uploads waiting for their client: the per-user cap, the short first-part wait, what the operator sees."""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import socket
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, gateway_config, run_gateway, unique
from .staged import open_uploads, user_jobs
from .test_transfer_jobs import wait_done

pytestmark = pytest.mark.testbed
UPLOAD = f"/filesystem/{SYSTEM}/transfer/upload"
FIRST_PART_WAIT = 10


@pytest.fixture(scope="module")
def waiting_gateway(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, pathlib.Path]]:
    tmp = tmp_path_factory.mktemp("waiting")
    staging = gateway_config(testbed)["clusters"][0]["staging"]
    staging = {**staging, "max_waiting_uploads": 1, "first_part_wait": FIRST_PART_WAIT}
    for gateway in run_gateway(tmp, testbed, staging=staging):
        yield gateway, tmp / "admin.sock"


def waiting(admin: pathlib.Path) -> list[dict[str, Any]]:
    """The admin snapshot's waiting uploads of the test system."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(admin))
        s.sendall(b'{"cmd": "snapshot"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 16)
            assert chunk, "the admin socket closed"
            data += chunk
    answer = json.loads(data)
    assert answer["ok"], answer
    (system,) = [s for s in answer["result"]["systems"] if s["name"] == SYSTEM]
    return list(system["waiting_uploads"])


def gauge(gateway: Gateway) -> float:
    text = httpx.get(f"{gateway.url}/metrics", timeout=10).text
    m = re.search(rf'^f7tproxy_staging_uploads_waiting{{system="{SYSTEM}"}} (\S+)$', text, re.M)
    assert m, text
    return float(m.group(1))


def eventually_none_waiting(gateway: Gateway, admin: pathlib.Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while waiting(admin) or gauge(gateway):
        assert time.monotonic() < deadline, waiting(admin)
        time.sleep(1)


def start_upload(c: httpx.Client, path: str) -> httpx.Response:
    return c.post(UPLOAD, json={"path": path, "transfer_directives": {"file_size": 10 << 20, "transfer_method": "s3"}})


def cancel(c: httpx.Client, job: dict[str, Any]) -> None:
    c.delete(f"/compute/{SYSTEM}/jobs/{job['jobId']}")
    wait_done(c, job)


def test_past_the_cap_429_and_nothing_is_submitted(waiting_gateway: tuple[Gateway, pathlib.Path], testbed: Testbed,
                                                   workdir: str) -> None:  # fmt: skip
    gateway, admin = waiting_gateway
    started: list[tuple[httpx.Client, dict[str, Any]]] = []
    with gateway.http() as c, gateway.http("fireuser2") as c2:
        try:
            r = start_upload(c, f"{workdir}/one.bin")
            assert r.status_code == 201, r.text
            job = r.json()["transferJob"]
            started.append((c, job))
            (entry,) = waiting(admin)
            assert set(entry) == {"user", "jobId", "path", "since"}
            assert entry["user"] == "fireuser" and entry["jobId"] == job["jobId"]
            assert entry["path"] == f"{workdir}/one.bin" and entry["since"].endswith("Z")
            since = datetime.datetime.fromisoformat(entry["since"])
            assert abs((datetime.datetime.now(datetime.UTC) - since).total_seconds()) < 120
            assert gauge(gateway) == 1

            jobs, uploads = user_jobs(testbed), open_uploads(testbed)
            r = start_upload(c, f"{workdir}/two.bin")
            assert r.status_code == 429, r.text
            assert int(r.headers["Retry-After"]) >= 1
            body = r.json()
            assert set(body) == {"errorType", "message", "data", "user", "causedBy"} and body["errorType"] == "error"
            assert "Too many staged uploads waiting" in body["message"]
            assert user_jobs(testbed) == jobs and open_uploads(testbed) == uploads
            assert len(waiting(admin)) == 1

            # The cap is per user.
            r = start_upload(c2, f"/home/fireuser2/{unique()}.bin")  # never written: cancelled below
            assert r.status_code == 201, r.text
            started.append((c2, r.json()["transferJob"]))
            assert {w["user"] for w in waiting(admin)} == {"fireuser", "fireuser2"}
            assert gauge(gateway) == 2
        finally:
            for client, started_job in started:
                cancel(client, started_job)
    # A cancelled job aborts its multipart upload, and the upload stops counting.
    eventually_none_waiting(gateway, admin)


def test_an_upload_never_sent_frees_the_node_after_the_first_part_wait(
    waiting_gateway: tuple[Gateway, pathlib.Path], testbed: Testbed, workdir: str
) -> None:
    gateway, admin = waiting_gateway
    with gateway.http() as c:
        r = start_upload(c, f"{workdir}/never.bin")
        assert r.status_code == 201, r.text
        job = r.json()["transferJob"]
        try:
            url = r.json()["transferDirectives"]["partsUploadUrls"][0]
            upload_id = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["uploadId"][0]
            assert upload_id in open_uploads(testbed)
            assert [w["jobId"] for w in waiting(admin)] == [job["jobId"]]
            # The job gives up after the first-part wait (plus its last back-off sleep and queueing).
            assert wait_done(c, job, timeout=FIRST_PART_WAIT + 150) == "FAILED"
        finally:
            cancel(c, job)
        err = c.get(f"/filesystem/{SYSTEM}/ops/view", params={"path": job["logs"]["errorLog"]}).json()["output"]
        assert f"no part of the file reached the staging area within {FIRST_PART_WAIT} s" in err
        assert upload_id not in open_uploads(testbed)
    eventually_none_waiting(gateway, admin)


def test_an_upload_in_progress_outlasts_the_first_part_wait(
    waiting_gateway: tuple[Gateway, pathlib.Path], testbed: Testbed, workdir: str
) -> None:
    gateway, admin = waiting_gateway
    size = 10 << 20
    data = bytes(range(256)) * (size // 256)
    with gateway.http() as c:
        r = start_upload(c, f"{workdir}/slow.bin")
        assert r.status_code == 201, r.text
        job, directives = r.json()["transferJob"], r.json()["transferDirectives"]
        try:
            part, urls = directives["maxPartSize"], directives["partsUploadUrls"]
            assert len(urls) == 2
            headers = {"Content-Type": "application/octet-stream"}
            etags = [httpx.put(urls[0], content=data[:part], headers=headers, timeout=60).headers["ETag"]]
            # Past the first-part wait (and the job's next check), the job still waits for the rest.
            time.sleep(FIRST_PART_WAIT + 25)
            state = c.get(f"/compute/{SYSTEM}/jobs/{job['jobId']}").json()["jobs"][0]["status"]["state"]
            assert state in ("RUNNING", "PENDING"), state
            assert [w["jobId"] for w in waiting(admin)] == [job["jobId"]]
            etags.append(httpx.put(urls[1], content=data[part:], headers=headers, timeout=60).headers["ETag"])
            xml = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in enumerate(etags, 1))
            done = httpx.post(directives["completeUploadUrl"], headers={"Content-Type": "application/xml"}, timeout=60,
                              content=f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>")  # fmt: skip
            assert done.status_code == 200, done.text
            assert wait_done(c, job) == "COMPLETED"
        finally:
            cancel(c, job)
        out = c.get(f"/filesystem/{SYSTEM}/ops/view", params={"path": job["logs"]["outputLog"]}).json()["output"]
        assert "File was successfully downloaded" in out
        assert c.get(f"/filesystem/{SYSTEM}/ops/stat", params={"path": f"{workdir}/slow.bin"}).json()["output"][
            "size"] == size  # fmt: skip
    eventually_none_waiting(gateway, admin)
