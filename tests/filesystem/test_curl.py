"""The ops through the curl command line, as a shell user would call them."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import urllib.parse

import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote

pytestmark = pytest.mark.testbed


def curl(gateway: Gateway, *args: str) -> tuple[int, bytes]:
    done = subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "60", "--write-out", "\n%{http_code}",
         "--header", f"Authorization: Bearer {gateway.token()}", *args],
        capture_output=True, timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    body, _, code = done.stdout.rpartition(b"\n")
    return int(code), body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed (scripts/test installs it)")
def test_ops_with_curl(gateway: Gateway, testbed: Testbed, workdir: str, tmp_path: pathlib.Path) -> None:
    ops = f"{gateway.url}/filesystem/{SYSTEM}/ops"
    local = tmp_path / "it's a file"
    local.write_bytes(b"\x00\x01binary\xff")
    code, _ = curl(gateway, "-F", f"file=@{local}", f"{ops}/upload?path={urllib.parse.quote(workdir)}")
    assert code == 204
    code, body = curl(gateway, "--get", "--data-urlencode", f"path={workdir}", f"{ops}/ls")
    assert code == 200 and [e["name"] for e in json.loads(body)["output"]] == ["it's a file"]
    code, body = curl(gateway, "--get", "--data-urlencode", f"path={workdir}/it's a file", f"{ops}/download")
    assert code == 200 and body == b"\x00\x01binary\xff"
    code, body = curl(gateway, "-X", "POST", "-H", "Content-Type: application/json", "--data",
                      json.dumps({"sourcePath": f"{workdir}/$(id)", "parent": False}), f"{ops}/mkdir")  # fmt: skip
    assert code == 201 and json.loads(body)["output"]["name"] == f"{workdir}/$(id)"
    code, body = curl(gateway, "--get", "--data-urlencode", f"path={workdir}/nope", f"{ops}/stat")
    assert code == 404 and "No such file or directory" in json.loads(body)["message"]
    code, _ = curl(gateway, "-X", "DELETE", "--get", "--data-urlencode", f"path={workdir}/$(id)", f"{ops}/rm")
    assert code == 204
    assert remote(testbed, f"ls {workdir}") == "it's a file\n"
