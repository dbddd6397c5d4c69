"""pyfirecrest's blocking transfer flows against the gateway: mv/cp jobs, and S3-staged upload/download."""

from __future__ import annotations

import hashlib
import os
import pathlib
import time

import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote

pytestmark = pytest.mark.testbed


def sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_mv_cp_as_transfer_jobs(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    remote(testbed, f"printf abc > {workdir}/a")
    fc = gateway.firecrest()
    try:
        info = fc.cp(SYSTEM, f"{workdir}/a", f"{workdir}/b", timeout=180)
        assert info["transferJob"]["system"] == SYSTEM
        fc.mv(SYSTEM, f"{workdir}/b", f"{workdir}/c", timeout=180)
        assert sorted(f["name"] for f in fc.list_files(SYSTEM, workdir)) == ["a", "c"]
        assert fc.view(SYSTEM, f"{workdir}/c") == "abc"
    finally:
        fc.close_session()


# pyfirecrest 3.10 PUTs the parts with httpx's deprecated `data=<bytes>`; the client is used unchanged.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")
def test_50_mib_upload_and_download_through_s3(gateway: Gateway, testbed: Testbed, workdir: str,
                                               tmp_path: pathlib.Path) -> None:  # fmt: skip
    size = 50 * 1024 * 1024
    local = tmp_path / "big.bin"
    with local.open("wb") as f:
        f.write(os.urandom(size))
    want = sha256_file(local)
    fc = gateway.firecrest()
    start = time.monotonic()
    try:
        fc.upload(SYSTEM, str(local), workdir, "big.bin")
        remote_path = f"{workdir}/big.bin"
        assert fc.checksum(SYSTEM, remote_path)["checksum"] == want
        assert fc.stat(SYSTEM, remote_path)["size"] == size

        back = tmp_path / "back.bin"
        fc.download(SYSTEM, remote_path, str(back))
        assert back.stat().st_size == size and sha256_file(back) == want
    finally:
        fc.close_session()
    assert time.monotonic() - start < 150
