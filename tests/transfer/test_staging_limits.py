"""Staged upload/download of a file past S3's 10,000-part limit: 400 at once, nothing created."""

from __future__ import annotations

import time

import httpx
import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote
from .staged import open_uploads, user_jobs

pytestmark = pytest.mark.testbed
TRANSFER = f"/filesystem/{SYSTEM}/transfer"
PART = 8 * 1024 * 1024  # the test gateway's max_part_size
LIMIT = 10_000 * PART


def refused(r: httpx.Response) -> str:
    assert r.status_code == 400, r.text[:500]
    body = r.json()
    assert body["errorType"] == "error" and set(body) == {"errorType", "message", "data", "user", "causedBy"}
    assert "at most 10000 parts" in body["message"]
    return str(body["message"])


def test_upload_past_the_part_limit_is_refused_before_anything_is_made(
    gateway: Gateway, testbed: Testbed, workdir: str
) -> None:
    jobs, uploads = user_jobs(testbed), open_uploads(testbed)
    with gateway.http() as c:
        for size in (LIMIT + 1, 10**15, 10**18):
            start = time.monotonic()
            r = c.post(f"{TRANSFER}/upload", json={
                "path": f"{workdir}/huge.bin", "transfer_directives": {"file_size": size, "transfer_method": "s3"}})
            assert str(size) in refused(r)
            assert time.monotonic() - start < 10
        # Sizes are ASCII digits only: "١٢" would pass str.isdigit() and int() as 12.
        for size in ("١٢", "12\n", "-1", 1.5, True):
            r = c.post(f"{TRANSFER}/upload", json={
                "path": f"{workdir}/odd.bin", "transfer_directives": {"file_size": size, "transfer_method": "s3"}})
            assert r.status_code == 400, (size, r.text[:300])
            assert "fileSize" in r.json()["message"]
        # The limit itself is accepted (and only its URLs are made): checked in the unit tests,
        # so that no 10,000-part job is left here.
    assert user_jobs(testbed) <= jobs
    assert open_uploads(testbed) <= uploads


def test_download_of_a_file_past_the_part_limit_is_refused_before_anything_is_made(
    gateway: Gateway, testbed: Testbed, workdir: str
) -> None:
    remote(testbed, f"truncate -s {LIMIT + 1} {workdir}/sparse.bin")  # sparse: no disk used
    jobs, uploads = user_jobs(testbed), open_uploads(testbed)
    with gateway.http() as c:
        start = time.monotonic()
        r = c.post(f"{TRANSFER}/download", json={"source_path": f"{workdir}/sparse.bin",
                                                 "transfer_directives": {"transferMethod": "s3"}})  # fmt: skip
        assert str(LIMIT + 1) in refused(r)
        assert time.monotonic() - start < 10
    assert user_jobs(testbed) <= jobs
    assert open_uploads(testbed) <= uploads
