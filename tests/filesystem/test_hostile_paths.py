"""Files really named with quotes, spaces, `$()`, backticks, newlines, leading dashes and unicode.

Each name round-trips through the ops (upload, ls, view, head, checksum, stat,
download, mkdir, symlink, chmod, rm) and nothing in it is ever executed.
"""

from __future__ import annotations

import hashlib
import shlex
import uuid

import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote

pytestmark = pytest.mark.testbed
OPS = f"/filesystem/{SYSTEM}/ops"
MARK = f"/tmp/f7t-pwned-{uuid.uuid4().hex[:8]}"

NAMES = [
    "it's",
    'say "hi"',
    "two  spaces ",
    f"$(touch {MARK.replace('/', '_')})",
    f"`touch {MARK.replace('/', '_')}`",
    "new\nline",
    "-rf",
    "--help",
    "-",
    "ünïcödé 😀 名前",
    "*",
    "; touch x; #",
    "a\\b",
    "$HOME",
    "'; exit 1; '",
    "&& echo pwned >",
    "tab\there",
    ".dotted",
    "%s%n%x",
]


def FORM_SAFE(name: str) -> bool:
    return not any(c == '"' or ord(c) < 0x20 or ord(c) == 0x7F for c in name)


def no_marks(testbed: Testbed) -> None:
    left = remote(testbed, f"ls -d {MARK}* /scratch/fireuser/{MARK.replace('/', '_')}* 2>/dev/null; true")
    assert left == ""


@pytest.mark.parametrize("name", NAMES, ids=[repr(n) for n in NAMES])
def test_hostile_name_round_trips(gateway: Gateway, testbed: Testbed, workdir: str, name: str) -> None:
    data = f"content of {name!r}\n".encode()
    path = f"{workdir}/{name}"
    with gateway.http() as c:
        if FORM_SAFE(name):
            r = c.post(f"{OPS}/upload", params={"path": workdir}, files={"file": (name, data)})
            assert r.status_code == 204, r.text
        else:
            # httpx percent-encodes '"' and control characters in multipart file names; make it on the cluster.
            remote(testbed, f"printf %s {shlex.quote(data.decode())} > {shlex.quote(path)}")
        listing = c.get(f"{OPS}/ls", params={"path": workdir, "showHidden": "true"}).json()["output"]
        assert [e["name"] for e in listing] == [name]
        assert c.get(f"{OPS}/ls", params={"path": path}).json()["output"][0]["name"] == path
        assert c.get(f"{OPS}/view", params={"path": path}).json()["output"] == data.decode()
        assert c.get(f"{OPS}/head", params={"path": path, "lines": 1}).json()["output"]["content"] == data.decode()
        assert c.get(f"{OPS}/checksum", params={"path": path}).json()["output"]["checksum"] == (
            hashlib.sha256(data).hexdigest())
        assert c.get(f"{OPS}/stat", params={"path": path}).json()["output"]["size"] == len(data)
        assert c.get(f"{OPS}/download", params={"path": path}).content == data

        sub = f"{workdir}/{name}.d"
        r = c.post(f"{OPS}/mkdir", json={"sourcePath": sub})
        assert r.status_code == 201, r.text
        assert r.json()["output"]["name"] == sub
        r = c.post(f"{OPS}/symlink", json={"sourcePath": path, "linkPath": f"{sub}/{name}"})
        assert r.status_code == 201 and r.json()["output"]["linkTarget"] == path
        r = c.put(f"{OPS}/chmod", json={"sourcePath": path, "mode": "600"})
        assert r.status_code == 200 and r.json()["output"]["permissions"] == "rw-------"
        r = c.post(f"{OPS}/compress", json={"sourcePath": sub, "targetPath": f"{path}.tgz", "dereference": True})
        assert r.status_code == 204, r.text
        r = c.post(f"{OPS}/extract", json={"sourcePath": f"{path}.tgz", "targetPath": workdir + "/" + name + ".d"})
        assert r.status_code == 204, r.text
        inner = f"{sub}/{name}.d/{name}"
        assert c.get(f"{OPS}/view", params={"path": inner}).json()["output"] == data.decode()

        for p in (sub, path, f"{path}.tgz"):
            assert c.delete(f"{OPS}/rm", params={"path": p}).status_code == 204
        assert c.get(f"{OPS}/ls", params={"path": workdir, "showHidden": "true"}).json()["output"] == []
    no_marks(testbed)


def test_command_substitution_path_is_literal(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    # "$(touch /tmp/...)" as a path: directories named "$(touch ", "tmp" and "f7t-pwned-...)".
    path = f"{workdir}/$(touch {MARK})"
    with gateway.http() as c:
        r = c.post(f"{OPS}/mkdir", json={"sourcePath": path, "parent": True})
        assert r.status_code == 201, r.text
        r = c.get(f"{OPS}/ls", params={"path": workdir, "recursive": "true"})
        assert [e["name"] for e in r.json()["output"]] == [
            "$(touch ", "$(touch /tmp", f"$(touch /tmp/{MARK.rsplit('/', 1)[1]})"]
        for op in ("ls", "stat", "file"):
            assert c.get(f"{OPS}/{op}", params={"path": f"/scratch/`touch {MARK}`"}).status_code in (403, 404)
        assert c.delete(f"{OPS}/rm", params={"path": f"{workdir}/$(touch "}).status_code == 204
    no_marks(testbed)


@pytest.mark.parametrize("bad", ["/scratch/a\0b", "/scratch/" + "x" * 256, "/scratch/" + "d/" * 2100])
def test_unnameable_paths_are_400(gateway: Gateway, bad: str) -> None:
    with gateway.http() as c:
        r = c.get(f"{OPS}/ls", params={"path": bad})
        assert r.status_code == 400, r.text
        r = c.post(f"{OPS}/mkdir", json={"sourcePath": bad})
        assert r.status_code == 400, r.text


def test_leading_dash_and_newline_file_names_in_upload_form(gateway: Gateway, workdir: str) -> None:
    with gateway.http() as c:
        for name in ("", ".", "..", "a/b"):
            r = c.post(f"{OPS}/upload", params={"path": workdir}, files={"file": (name, b"x")})
            assert r.status_code == 400, (name, r.text)
