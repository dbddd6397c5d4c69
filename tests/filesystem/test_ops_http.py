"""Every ops route through plain HTTP requests against a real gateway and the testbed."""

from __future__ import annotations

import hashlib
import shlex
import subprocess

import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote

pytestmark = pytest.mark.testbed
OPS = f"/filesystem/{SYSTEM}/ops"


def sh(testbed: Testbed, script: str, user: str = "fireuser") -> str:
    return remote(testbed, script, user)


def test_ls_owner_names_as_find_prints_them(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    # Owners with names (fireuser, root) and without (a uid and gid no account has): the gateway's
    # names, looked up with getent and kept, are the ones find itself prints on the login node.
    sh(testbed, f"cd {workdir} && touch mine root nobody-known && mkdir d")
    for name, owner in (("root", "0:0"), ("nobody-known", "48213:48217")):
        subprocess.run(["chown", owner, f"{workdir}/{name}"], check=True, timeout=10)
    truth = sh(testbed, f"find {shlex.quote(workdir)} -mindepth 1 -maxdepth 1 -printf '%P %u %g\\n'")
    want = sorted(tuple(line.split()) for line in truth.splitlines())
    assert ("nobody-known", "48213", "48217") in want and ("root", "root", "root") in want
    with gateway.http() as c:
        for _ in range(2):  # looked up, then kept
            out = c.get(f"{OPS}/ls", params={"path": workdir}).json()["output"]
            assert sorted((e["name"], e["user"], e["group"]) for e in out) == want
        metrics = c.get("/metrics").text
    hits = [line for line in metrics.splitlines()
            if line.startswith("f7tproxy_cache_lookups_total{") and 'kind="names"' in line and 'result="hit"' in line]
    assert hits and float(hits[0].split()[-1]) >= 1, hits  # fmt: skip


def test_ls_shapes_and_options(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    sh(testbed, f"cd {workdir} && printf abc > a.txt && touch .hidden && mkdir -p sub/.hd && touch sub/x sub/.hd/y"
                f" && ln -s a.txt link && chmod 640 a.txt")  # fmt: skip
    with gateway.http() as c:
        r = c.get(f"{OPS}/ls", params={"path": workdir, "showHidden": "false"})
        assert r.status_code == 200, r.text
        out = r.json()["output"]
        assert [e["name"] for e in out] == ["a.txt", "link", "sub"]
        a = out[0]
        assert set(a) == {"name", "type", "linkTarget", "user", "group", "permissions", "lastModified", "size"}
        assert (a["type"], a["permissions"], a["user"], a["group"], a["size"], a["linkTarget"]) == (
            "-", "rw-r-----", "fireuser", "fireuser", "3", None)
        assert len(a["lastModified"]) == 19 and a["lastModified"][10] == "T"
        assert out[1]["type"] == "l" and out[1]["linkTarget"] == "a.txt"
        assert out[2]["type"] == "d"

        hidden = c.get(f"{OPS}/ls", params={"path": workdir, "showHidden": "true"}).json()["output"]
        assert [e["name"] for e in hidden] == [".hidden", "a.txt", "link", "sub"]

        rec = c.get(f"{OPS}/ls", params={"path": workdir, "recursive": "true"}).json()["output"]
        assert [e["name"] for e in rec] == ["a.txt", "link", "sub", "sub/x"]
        rec_all = c.get(f"{OPS}/ls", params={"path": workdir, "recursive": "true", "showHidden": "true"}).json()
        assert [e["name"] for e in rec_all["output"]] == [
            ".hidden", "a.txt", "link", "sub", "sub/.hd", "sub/.hd/y", "sub/x"]

        num = c.get(f"{OPS}/ls", params={"path": workdir, "numericUid": "true"}).json()["output"]
        assert num[0]["user"].isdigit() and num[0]["group"].isdigit()

        deref = c.get(f"{OPS}/ls", params={"path": workdir, "dereference": "true"}).json()["output"]
        assert deref[1]["type"] == "-" and deref[1]["linkTarget"] is None and deref[1]["size"] == "3"

        one = c.get(f"{OPS}/ls", params={"path": f"{workdir}/a.txt"}).json()["output"]
        assert [e["name"] for e in one] == [f"{workdir}/a.txt"]

        missing = c.get(f"{OPS}/ls", params={"path": f"{workdir}/nope"})
        assert missing.status_code == 404
        body = missing.json()
        assert body["errorType"] == "error" and "No such file or directory" in body["message"]


def test_head_tail_view(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    sh(testbed, f"seq 1 20 > {workdir}/n")
    with gateway.http() as c:
        def get(op: str, **params: object) -> dict[str, object]:
            r = c.get(f"{OPS}/{op}", params={"path": f"{workdir}/n", **params})
            assert r.status_code == 200, r.text
            return r.json()["output"]  # type: ignore[no-any-return]

        assert get("head") == {"content": "".join(f"{i}\n" for i in range(1, 11)), "contentType": "lines",
                               "startPosition": 0, "endPosition": 10}  # fmt: skip
        assert get("head", lines=2, skipTrailing="false")["content"] == "1\n2\n"
        assert get("head", bytes=3)["content"] == "1\n2"
        assert get("head", lines=18, skipTrailing="true") == {"content": "1\n2\n", "contentType": "lines",
                                                              "startPosition": 0, "endPosition": -18}  # fmt: skip
        assert get("tail", lines=2) == {"content": "19\n20\n", "contentType": "lines",
                                        "startPosition": -2, "endPosition": -1}  # fmt: skip
        assert get("tail", lines=19, skipHeading="true")["content"] == "19\n20\n"
        assert get("tail", bytes=3)["content"] == "20\n"
        both = c.get(f"{OPS}/head", params={"path": f"{workdir}/n", "bytes": 1, "lines": 1})
        assert both.status_code == 400
        assert get("view") == "".join(f"{i}\n" for i in range(1, 21))
        assert get("view", offset=2, size=4) == "2\n3\n"
        assert c.get(f"{OPS}/view", params={"path": f"{workdir}/n", "size": 0}).status_code == 400
        assert c.get(f"{OPS}/view", params={"path": f"{workdir}/n", "offset": -1}).status_code == 400
        big = c.get(f"{OPS}/view", params={"path": f"{workdir}/n", "size": 6 * 1024 * 1024})
        assert big.status_code == 413 and "limit" in big.json()["message"]


def test_checksum_file_stat(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    sh(testbed, f"printf hello > {workdir}/h && ln -s h {workdir}/l")
    with gateway.http() as c:
        r = c.get(f"{OPS}/checksum", params={"path": f"{workdir}/h"})
        assert r.json() == {"output": {"algorithm": "SHA256", "checksum": hashlib.sha256(b"hello").hexdigest()}}
        assert c.get(f"{OPS}/file", params={"path": f"{workdir}/h"}).json() == {"output": "ASCII text, with no line terminators"}
        assert c.get(f"{OPS}/file", params={"path": workdir}).json() == {"output": "directory"}
        assert c.get(f"{OPS}/file", params={"path": f"{workdir}/zz"}).status_code == 404
        st = c.get(f"{OPS}/stat", params={"path": f"{workdir}/l", "dereference": "false"}).json()["output"]
        assert set(st) == {"mode", "ino", "dev", "nlink", "uid", "gid", "size", "atime", "ctime", "mtime"}
        assert all(isinstance(v, int) for v in st.values())
        assert st["mode"] & 0o170000 == 0o120000 and st["size"] == 1
        st = c.get(f"{OPS}/stat", params={"path": f"{workdir}/l", "dereference": "true"}).json()["output"]
        assert st["mode"] == 0o100000 | int(sh(testbed, f"stat -c %a {workdir}/h"), 8) and st["size"] == 5
        assert c.get(f"{OPS}/stat", params={"path": f"{workdir}/zz"}).status_code == 404


def test_mkdir_symlink_chmod_chown_rm(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    with gateway.http() as c:
        r = c.post(f"{OPS}/mkdir", json={"sourcePath": f"{workdir}/a/b", "parent": True})
        assert r.status_code == 201, r.text
        assert r.json()["output"]["name"] == f"{workdir}/a/b" and r.json()["output"]["type"] == "d"
        again = c.post(f"{OPS}/mkdir", json={"sourcePath": f"{workdir}/a/b"})
        assert again.status_code == 400 and "File exists" in again.json()["message"]
        assert c.post(f"{OPS}/mkdir", json={"path": f"{workdir}/x/y"}).status_code == 404

        r = c.post(f"{OPS}/symlink", json={"sourcePath": f"{workdir}/a", "linkPath": f"{workdir}/ln"})
        assert r.status_code == 201, r.text
        assert r.json() == {"output": r.json()["output"]} and r.json()["output"]["linkTarget"] == f"{workdir}/a"

        r = c.put(f"{OPS}/chmod", json={"path": f"{workdir}/a", "mode": "750"})
        assert r.status_code == 200 and r.json()["output"]["permissions"] == "rwxr-x---"
        r = c.put(f"{OPS}/chmod", json={"path": f"{workdir}/a", "mode": "g-x,o+r"})
        assert r.status_code == 200 and r.json()["output"]["permissions"] == "rwxr--r--"
        assert c.put(f"{OPS}/chmod", json={"path": f"{workdir}/a", "mode": "7; rm -rf ~"}).status_code == 400

        r = c.put(f"{OPS}/chown", json={"path": f"{workdir}/a", "owner": "fireuser", "group": "fireuser"})
        assert r.status_code == 200 and r.json()["output"]["user"] == "fireuser"
        r = c.put(f"{OPS}/chown", json={"path": f"{workdir}/a", "owner": "firesrv"})
        assert r.status_code == 403, r.text
        assert "Operation not permitted" in r.json()["message"]
        assert c.put(f"{OPS}/chown", json={"path": f"{workdir}/a", "owner": "no such user"}).status_code == 400

        r = c.delete(f"{OPS}/rm", params={"path": f"{workdir}/a"})
        assert r.status_code == 204 and r.content == b""
        assert c.delete(f"{OPS}/rm", params={"path": f"{workdir}/a"}).status_code == 404
        assert c.delete(f"{OPS}/rm", params={"path": "/scratch"}).status_code == 400


def test_upload_download(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    data = bytes(range(256)) * 1000
    with gateway.http() as c:
        r = c.post(f"{OPS}/upload", params={"path": workdir}, files={"file": ("bin.dat", data)})
        assert r.status_code == 204, r.text
        assert sh(testbed, f"sha256sum < {workdir}/bin.dat").split()[0] == hashlib.sha256(data).hexdigest()
        r = c.get(f"{OPS}/download", params={"path": f"{workdir}/bin.dat"})
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"] == "application/octet-stream"
        # overwrite
        r = c.post(f"{OPS}/upload", params={"path": workdir}, files={"file": ("bin.dat", b"short")})
        assert r.status_code == 204
        assert c.get(f"{OPS}/download", params={"path": f"{workdir}/bin.dat"}).content == b"short"

        sh(testbed, f"head -c {5 * 1024 * 1024 + 1} /dev/zero > {workdir}/big")
        r = c.get(f"{OPS}/download", params={"path": f"{workdir}/big"})
        assert r.status_code == 413 and "transfer/download" in r.json()["message"]
        r = c.post(f"{OPS}/upload", params={"path": workdir}, files={"file": ("big2", b"\0" * (5 * 1024 * 1024 + 1))})
        assert r.status_code == 413 and "transfer/upload" in r.json()["message"]
        assert c.get(f"{OPS}/download", params={"path": f"{workdir}/nope"}).status_code == 404
        r = c.post(f"{OPS}/upload", params={"path": workdir}, files={"file": ("../escape", b"x")})
        assert r.status_code == 400


def test_compress_extract(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    sh(testbed, f"mkdir -p {workdir}/src/d && printf 1 > {workdir}/src/a.txt && printf 2 > {workdir}/src/d/b.log")
    with gateway.http() as c:
        for compression in ("gzip", "bzip2", "xz", "none"):
            tgt = f"{workdir}/out-{compression}.tar"
            r = c.post(f"{OPS}/compress", json={"source_path": f"{workdir}/src", "target_path": tgt,
                                                "dereference": False, "compression": compression,
                                                "match_pattern": None})  # fmt: skip
            assert r.status_code == 204, r.text
            dest = f"{workdir}/x-{compression}"
            sh(testbed, f"mkdir {dest}")
            r = c.post(f"{OPS}/extract", json={"source_path": tgt, "target_path": dest, "compression": compression})
            assert r.status_code == 204, r.text
            assert sh(testbed, f"cat {dest}/src/a.txt {dest}/src/d/b.log") == "12"
        r = c.post(f"{OPS}/compress", json={"sourcePath": f"{workdir}/src", "targetPath": f"{workdir}/m.tgz",
                                            "matchPattern": r".*\.log"})  # fmt: skip
        assert r.status_code == 204, r.text
        assert sh(testbed, f"tar -tzf {workdir}/m.tgz").split() == ["./d/b.log"]
        r = c.post(f"{OPS}/compress", json={"sourcePath": f"{workdir}/src", "targetPath": f"{workdir}/m.tgz",
                                            "compression": "zip"})  # fmt: skip
        assert r.status_code == 400


def test_path_rules(gateway: Gateway) -> None:
    with gateway.http() as c:
        for bad in ["relative/path", "/etc/passwd", "/", "/home/../etc", "/scratch/a\0b", ""]:
            r = c.get(f"{OPS}/ls", params={"path": bad})
            assert r.status_code == 400, (bad, r.text)
        assert c.get(f"{OPS}/ls").status_code == 400
        assert c.get(f"/filesystem/nosuch/ops/ls", params={"path": "/home"}).status_code == 404
        r = c.get(f"{OPS}/ls", params={"path": "/scratch/shared/../../etc"})
        assert r.status_code == 400
        # normalised: /scratch//shared/./ is /scratch/shared
        assert c.get(f"{OPS}/ls", params={"path": "//scratch//shared/./"}).status_code == 200


def test_other_users_private_file_is_403(gateway: Gateway, testbed: Testbed, workdir: str) -> None:
    sh(testbed, f"printf secret > {workdir}/private")
    with gateway.http("fireuser2") as c:
        for op in ("view", "head", "checksum", "download", "ls", "stat"):
            r = c.get(f"{OPS}/{op}", params={"path": f"{workdir}/private"})
            assert r.status_code == 403, (op, r.text)
            assert "Permission denied" in r.json()["message"]
        r = c.get(f"{OPS}/ls", params={"path": "/home/fireuser"})
        assert r.status_code == 403
        r = c.delete(f"{OPS}/rm", params={"path": f"{workdir}/private"})
        assert r.status_code == 403
    assert sh(testbed, f"cat {shlex.quote(workdir)}/private") == "secret"


def test_openapi_documents_every_filesystem_route_and_the_size_limits(gateway: Gateway) -> None:
    import httpx

    doc = httpx.get(f"{gateway.url}/openapi.json", timeout=10).json()
    paths = {p for p in doc["paths"] if p.startswith("/filesystem/")}
    ops = {"ls", "head", "tail", "view", "checksum", "file", "stat", "rm", "mkdir", "symlink", "chmod", "chown",
           "download", "upload", "compress", "extract"}  # fmt: skip
    transfers = {"upload", "download", "mv", "cp", "rm", "compress", "extract"}
    assert paths == {f"/filesystem/{{system_name}}/ops/{o}" for o in ops} | {
        f"/filesystem/{{system_name}}/transfer/{t}" for t in transfers}
    for op, method in (("view", "get"), ("download", "get"), ("upload", "post"), ("head", "get")):
        text = doc["paths"][f"/filesystem/{{system_name}}/ops/{op}"][method]["description"]
        assert "max_ops_file_size" in text and "413" in text
    assert "200" in doc["paths"]["/filesystem/{system_name}/transfer/rm"]["delete"]["responses"]
