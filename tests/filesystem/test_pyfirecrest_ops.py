"""The ops through the official client (pyfirecrest's v2 `Firecrest`), unchanged."""

from __future__ import annotations

import hashlib
import pathlib

import pytest
from firecrest.FirecrestException import FirecrestException, UnexpectedStatusException

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote

pytestmark = pytest.mark.testbed


def test_every_op_through_pyfirecrest(gateway: Gateway, testbed: Testbed, workdir: str,
                                      tmp_path: pathlib.Path) -> None:  # fmt: skip
    fc = gateway.firecrest()
    try:
        local = tmp_path / "small.bin"
        local.write_bytes(b"line1\nline2\nline3\n")
        fc.upload(SYSTEM, str(local), workdir, "small.txt")
        path = f"{workdir}/small.txt"

        files = fc.list_files(SYSTEM, workdir, show_hidden=True)
        assert [(f["name"], f["type"], f["size"]) for f in files] == [("small.txt", "-", "18")]
        assert fc.head(SYSTEM, path, num_lines=1)["content"] == "line1\n"
        assert fc.head(SYSTEM, path, num_bytes=3)["content"] == "lin"
        assert fc.head(SYSTEM, path, num_lines=1, exclude_trailing=True)["content"] == "line1\nline2\n"
        assert fc.tail(SYSTEM, path, num_lines=1)["content"] == "line3\n"
        assert fc.tail(SYSTEM, path, num_lines=2, exclude_beginning=True)["content"] == "line2\nline3\n"
        assert fc.view(SYSTEM, path) == "line1\nline2\nline3\n"
        assert fc.checksum(SYSTEM, path) == {
            "algorithm": "SHA256", "checksum": hashlib.sha256(b"line1\nline2\nline3\n").hexdigest()}
        assert fc.file_type(SYSTEM, path) == "ASCII text"
        assert fc.stat(SYSTEM, path)["size"] == 18

        fc.download(SYSTEM, path, str(tmp_path / "back"))
        assert (tmp_path / "back").read_bytes() == b"line1\nline2\nline3\n"

        assert fc.mkdir(SYSTEM, f"{workdir}/a/b", create_parents=True)["name"] == f"{workdir}/a/b"
        link = fc.symlink(SYSTEM, path, f"{workdir}/a/link")
        assert link["output"]["linkTarget"] == path
        assert fc.chmod(SYSTEM, path, "700")["permissions"] == "rwx------"
        assert fc.chown(SYSTEM, path, "fireuser", "fireuser")["user"] == "fireuser"

        fc.compress(SYSTEM, f"{workdir}/a", f"{workdir}/a.tar.gz")
        fc.mkdir(SYSTEM, f"{workdir}/x")
        fc.extract(SYSTEM, f"{workdir}/a.tar.gz", f"{workdir}/x")
        assert [f["name"] for f in fc.list_files(SYSTEM, f"{workdir}/x", recursive=True)] == [
            "a", "a/b", "a/link"]

        fc.rm(SYSTEM, f"{workdir}/a")
        assert "a" not in [f["name"] for f in fc.list_files(SYSTEM, workdir)]

        with pytest.raises(FileNotFoundError):
            fc.download(SYSTEM, f"{workdir}/missing", str(tmp_path / "never"))
        with pytest.raises(UnexpectedStatusException) as info:
            fc.list_files(SYSTEM, f"{workdir}/missing")
        assert info.value.responses[-1].status_code == 404
        assert "No such file or directory" in info.value.responses[-1].json()["message"]
    finally:
        fc.close_session()


def test_other_users_file_is_403_through_pyfirecrest(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    remote(testbed, f"printf private > {workdir}/p")
    fc = gateway.firecrest("fireuser2")
    try:
        with pytest.raises(FirecrestException) as info:
            fc.view(SYSTEM, f"{workdir}/p")
        assert info.value.responses[-1].status_code == 403
        assert "Permission denied" in info.value.responses[-1].json()["message"]
    finally:
        fc.close_session()
