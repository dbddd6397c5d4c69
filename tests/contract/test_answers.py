"""Every FirecREST operation answered by f7tproxy on the testbed, checked against FirecREST's document.

The client's response hook (`spec.HOOKS`, as in every API test) checks each
answer against the schema FirecREST's document gives for that operation and status;
this test makes sure each of FirecREST's operations is called at least once, with a
success and with an error answer, as a test user in a scratch directory.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .spec import find_operation, operations, response_problems, spec
from ..gateway import SYSTEM, Gateway

pytestmark = pytest.mark.testbed

OPS = f"/filesystem/{SYSTEM}/ops"
TRANSFER = f"/filesystem/{SYSTEM}/transfer"
JOBS = f"/compute/{SYSTEM}/jobs"


def test_checker_refuses_an_answer_firecrest_would_not_give() -> None:
    bad = b'{"systems": [{"name": "x", "ssh": {"host": "h", "port": 22}, "scheduler": {"type": "slurm"},' \
          b' "probing": {"services": ["ssh"], "intervalCheck": 1.5}}]}'  # fmt: skip
    problems = response_problems("GET", "/status/systems", 200, "application/json", bad)
    assert any("version" in p for p in problems) and any("services" in p for p in problems), problems
    assert any("intervalCheck" in p for p in problems), problems
    assert response_problems("GET", "/status/systems", 418, "application/json", b"{}")
    assert response_problems("GET", "/metrics", 200, "text/plain", b"") == []
    error = b'{"errorType": "oops", "message": "m"}'
    assert response_problems("GET", f"{OPS}/ls", 404, "application/json", error)


def test_every_firecrest_operation_answers_as_its_document_says(gateway: Gateway, workdir: str) -> None:
    seen: set[str] = set()

    def record(response: httpx.Response) -> None:
        op = find_operation(response.request.method, response.request.url.path)
        if op is not None and response.status_code < 400:
            seen.add(op.operation_id)

    jobs: list[str] = []
    with gateway.http() as c:
        c.event_hooks["response"].append(record)
        try:
            _status(c)
            _ops(c, workdir)
            jobs += _transfers(c, workdir)
            jobs += _compute(c, workdir)
            _errors(c, workdir)
        finally:
            for job in jobs:
                c.delete(f"{JOBS}/{job}")
    missing = {op.operation_id for op in operations()} - seen
    assert not missing, f"not called with success: {sorted(missing)}"


def test_document_declares_firecrests_oauth2_scheme_with_the_demo_issuers_token_url(gateway: Gateway) -> None:
    document = httpx.get(f"{gateway.url}/openapi.json", timeout=10).json()
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == set(spec()["components"]["securitySchemes"])
    assert schemes["APIAuthDependency"]["flows"]["clientCredentials"]["tokenUrl"] == f"{gateway.url}/auth/token"


def _ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def _status(c: httpx.Client) -> None:
    _ok(c.get("/status/liveness/"))
    (system,) = _ok(c.get("/status/systems"))["systems"]
    assert isinstance(system["probing"]["services"], dict) and isinstance(system["scheduler"]["version"], str)
    for what in ("nodes", "partitions", "reservations", "userinfo"):
        _ok(c.get(f"/status/{SYSTEM}/{what}"))
    _ok(c.get(f"/status/{SYSTEM}/partitions", params={"show_hidden": "true"}))


def _ops(c: httpx.Client, d: str) -> None:
    _ok(c.post(f"{OPS}/mkdir", json={"sourcePath": f"{d}/sub/dir", "parent": True}), 201)
    _ok(c.post(f"{OPS}/upload", params={"path": d}, files={"file": ("a.txt", b"one\ntwo\nthree\n")}), 204)
    assert _ok(c.get(f"{OPS}/ls", params={"path": d, "showHidden": "true"}))["output"]
    for op in ("head", "tail"):
        _ok(c.get(f"{OPS}/{op}", params={"path": f"{d}/a.txt", "lines": 2}))
    _ok(c.get(f"{OPS}/view", params={"path": f"{d}/a.txt", "offset": 1, "size": 3}))
    for op in ("checksum", "file", "stat"):
        _ok(c.get(f"{OPS}/{op}", params={"path": f"{d}/a.txt"}))
    assert c.get(f"{OPS}/download", params={"path": f"{d}/a.txt"}).content == b"one\ntwo\nthree\n"
    _ok(c.post(f"{OPS}/symlink", json={"sourcePath": f"{d}/a.txt", "linkPath": f"{d}/link"}), 201)
    _ok(c.put(f"{OPS}/chmod", json={"sourcePath": f"{d}/a.txt", "mode": "640"}))
    _ok(c.put(f"{OPS}/chown", json={"sourcePath": f"{d}/a.txt", "owner": "fireuser"}))
    _ok(c.post(f"{OPS}/compress", json={"sourcePath": f"{d}/sub", "targetPath": f"{d}/sub.tar.gz"}), 204)
    _ok(c.post(f"{OPS}/mkdir", json={"sourcePath": f"{d}/out"}), 201)
    _ok(c.post(f"{OPS}/extract", json={"sourcePath": f"{d}/sub.tar.gz", "targetPath": f"{d}/out"}), 204)
    removed = c.delete(f"{OPS}/rm", params={"path": f"{d}/out"})
    assert removed.status_code == 204 and "content-type" not in removed.headers, removed.headers


def _transfers(c: httpx.Client, d: str) -> list[str]:
    jobs = []

    def job(r: httpx.Response, status: int = 201) -> None:
        jobs.append(_ok(r, status)["transferJob"]["jobId"])

    job(c.post(f"{TRANSFER}/cp", json={"sourcePath": f"{d}/a.txt", "targetPath": f"{d}/b.txt"}))
    job(c.post(f"{TRANSFER}/mv", json={"sourcePath": f"{d}/sub", "targetPath": f"{d}/sub2"}))
    job(c.post(f"{TRANSFER}/compress", json={"sourcePath": f"{d}/a.txt", "targetPath": f"{d}/t.tar.gz"}))
    job(c.post(f"{TRANSFER}/extract", json={"sourcePath": f"{d}/sub.tar.gz", "targetPath": d}))
    job(c.delete(f"{TRANSFER}/rm", params={"path": f"{d}/link"}), 200)
    s3 = {"transferMethod": "s3"}
    job(c.post(f"{TRANSFER}/download", json={"sourcePath": f"{d}/a.txt", "transferDirectives": s3}))
    job(c.post(f"{TRANSFER}/upload", json={"sourcePath": f"{d}/big.bin", "transferDirectives": {**s3, "fileSize": 10}}))
    return jobs


def _compute(c: httpx.Client, d: str) -> list[str]:
    script = "#!/bin/bash\nsleep 60\n"
    job = {"name": "contract", "workingDirectory": d, "script": script}
    job_id = _ok(c.post(JOBS, json={"job": job}), 201)["jobId"]
    try:
        _ok(c.get(JOBS))
        _ok(c.get(JOBS, params={"allusers": "false", "time_window": "1h"}))
        deadline = time.monotonic() + 60
        while _ok(c.get(f"{JOBS}/{job_id}"))["jobs"][0]["status"]["state"] != "RUNNING":
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.5)
        _ok(c.get(f"{JOBS}/{job_id}/metadata"))
        _ok(c.put(f"{JOBS}/{job_id}/attach", json={"command": "true"}), 204)
    finally:
        _ok(c.delete(f"{JOBS}/{job_id}"), 204)
    return [job_id]


def _errors(c: httpx.Client, d: str) -> None:
    missing = c.get(f"{OPS}/ls", params={"path": f"{d}/none"})
    assert missing.status_code == 404 and missing.json()["user"] == "fireuser"
    assert "causedBy" in missing.json()
    assert c.get("/status/nowhere/nodes").status_code == 404
    bad = c.post(f"{OPS}/mkdir", content=b'{"sourcePath": "\xff"}', headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "validation", bad.text
