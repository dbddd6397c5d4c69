"""The compute and status API over HTTP, against a real server and the testbed's Slurm."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ..server_process import ServerProcess
from .conftest import SYSTEM, home, token

pytestmark = pytest.mark.testbed

Api = Callable[..., httpx.Client]
HOSTILE = 'f7t |pipe| "double" \'single\' spaces ü'


def submit(client: httpx.Client, script: str = "#!/bin/bash\necho hi\n", **job: Any) -> httpx.Response:
    body = {"job": {"working_directory": home(), "script": script, **job}}
    return client.post(f"/compute/{SYSTEM}/jobs", json=body)


def wait_done(client: httpx.Client, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/compute/{SYSTEM}/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()["jobs"][0]
        if job["status"]["state"] in {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}:
            return job
        assert time.monotonic() < deadline, json.dumps(job)
        time.sleep(0.5)


def assert_error(answer: httpx.Response, status: int, message: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) >= {"errorType", "message", "data", "user", "causedBy"}
    if message is not None:
        assert message in body["message"]
    return body


def test_status_routes(api: Api) -> None:
    c = api()
    systems = c.get("/status/systems")
    assert systems.status_code == 200 and systems.headers["F7T-AppVersion"] == "2.x.x"
    (system,) = systems.json()["systems"]
    assert system["name"] == SYSTEM and (system["servicesHealth"] is None or isinstance(system["servicesHealth"], list))
    text = systems.text.lower()
    assert "ca_key" not in text and "secret" not in text and "private" not in text
    nodes = c.get(f"/status/{SYSTEM}/nodes").json()["nodes"]
    assert nodes[0]["name"] and set(nodes[0]["partitions"]) == {"normal", "debug"}
    parts = c.get(f"/status/{SYSTEM}/partitions").json()["partitions"]
    assert {p["name"]: p["partition"] for p in parts} == {"normal": "UP", "debug": "UP"}
    assert c.get(f"/status/{SYSTEM}/reservations").json() == {"reservations": []}
    info = c.get(f"/status/{SYSTEM}/userinfo").json()
    assert info["user"]["name"] == "fireuser" and info["group"]["name"] == "fireuser"
    assert {a["name"]: a["default"] for a in info["accounts"]} == {"proj1": True, "proj2": False}
    assert httpx.get(f"{c.base_url}/status/liveness/").status_code == 200  # no token


def test_hidden_partitions_only_when_asked(api: Api) -> None:
    # The testbed's `hidden` partition has Hidden=YES (tests/testbed/lib.sh).
    c = api()
    names = {p["name"] for p in c.get(f"/status/{SYSTEM}/partitions").json()["partitions"]}
    assert names == {"normal", "debug"}
    for no in ("false", "0"):
        answer = c.get(f"/status/{SYSTEM}/partitions", params={"show_hidden": no})
        assert {p["name"] for p in answer.json()["partitions"]} == names
    shown = c.get(f"/status/{SYSTEM}/partitions", params={"show_hidden": "true"}).json()["partitions"]
    assert {p["name"]: p["partition"] for p in shown} == {"normal": "UP", "debug": "UP", "hidden": "UP"}
    assert_error(c.get(f"/status/{SYSTEM}/partitions", params={"show_hidden": "AAA"}), 400)


def test_unknown_system_and_job(api: Api) -> None:
    c = api()
    for method, path in [("GET", "/status/nope/nodes"), ("GET", "/compute/nope/jobs"),
                         ("POST", "/compute/nope/jobs"), ("DELETE", "/compute/nope/jobs/1")]:  # fmt: skip
        assert_error(c.request(method, path, json={}), 404, "System not found")
    for path in ["/compute/{s}/jobs/99999999", "/compute/{s}/jobs/99999999/metadata", "/compute/{s}/jobs/abc"]:
        assert_error(c.get(path.format(s=SYSTEM)), 404, "Job not found")
    assert_error(c.delete(f"/compute/{SYSTEM}/jobs/99999999"), 404, "Job not found")


def test_auth_and_method_errors(server: ServerProcess) -> None:
    assert_error(httpx.get(f"{server.url}/compute/{SYSTEM}/jobs"), 401)
    bad = {"Authorization": "Bearer nonsense"}
    assert_error(httpx.get(f"{server.url}/status/{SYSTEM}/nodes", headers=bad), 401)
    good = {"Authorization": f"Bearer {token(server)}"}
    assert_error(httpx.patch(f"{server.url}/compute/{SYSTEM}/jobs", headers=good), 405)


def test_malformed_bodies_are_400_with_field_errors(api: Api) -> None:
    c = api()
    body = assert_error(c.post(f"/compute/{SYSTEM}/jobs", content=b"{not json"), 400)
    assert body["errorType"] == "validation"
    body = assert_error(c.post(f"/compute/{SYSTEM}/jobs", json={"job": {"script": 3, "env": {"A": 1}}}), 400)
    fields = {(f["location"], f["name"]) for f in body["data"]["fields"]}
    assert ("body", "job.workingDirectory") in fields and ("body", "job.script") in fields
    body = assert_error(submit(c, script_path="/x.sh"), 400)  # both script and scriptPath
    assert body["data"]["fields"][0]["name"] == "job.script"
    body = assert_error(submit(c, env={"BAD NAME": "x"}), 400)
    assert body["data"]["fields"][0]["name"] == "job.env.BAD NAME"
    body = assert_error(submit(c, scheduler_options=["--uid=0", "--account=proj2", "--time=1"]), 400)
    assert [f["name"] for f in body["data"]["fields"]] == ["job.schedulerOptions[0]", "job.schedulerOptions[1]"]
    assert_error(c.get(f"/compute/{SYSTEM}/jobs?allusers=maybe"), 400)
    assert_error(c.get(f"/compute/{SYSTEM}/jobs?time_window=2y"), 400)
    assert_error(c.put(f"/compute/{SYSTEM}/jobs/1/attach", json={}), 400)
    assert_error(submit(c, key_that_is_unknown=1, working_directory=""), 400)


def test_submit_hostile_name_and_read_it_back(api: Api) -> None:
    c = api()
    name = f"{HOSTILE} {uuid.uuid4().hex[:8]}"
    answer = submit(c, "#!/bin/bash\necho \"A=[$A] B=[$B]\"\n", name=name, env={"A": "x,y z", "B": "q'\"$HOME"},
                    standard_output=f"{home()}/f7t-hostile-%j.out", scheduler_options=["--time=00:05:00"])  # fmt: skip
    assert answer.status_code == 201, answer.text
    job_id = answer.json()["jobId"]
    assert isinstance(job_id, str)
    job = wait_done(c, job_id)
    assert job["name"] == name and job["status"]["state"] == "COMPLETED" and job["status"]["exitCode"] == 0
    assert job["time"]["limit"] == 300 and job["workingDirectory"] == home() and job["account"] == "proj1", json.dumps(job)
    listed = c.get(f"/compute/{SYSTEM}/jobs", params={"name": name}).json()["jobs"]
    assert [j["jobId"] for j in listed] == [job_id]
    (meta,) = c.get(f"/compute/{SYSTEM}/jobs/{job_id}/metadata").json()["jobs"]
    assert meta["jobId"] == job_id and meta["standardOutput"] == f"{home()}/f7t-hostile-{job_id}.out"
    assert "echo" in meta["script"]


def test_list_filters_and_unknown_params(api: Api) -> None:
    c = api()
    mine = submit(c, account="proj2", name="f7t-filter-" + uuid.uuid4().hex[:8]).json()["jobId"]
    wait_done(c, mine)
    base = f"/compute/{SYSTEM}/jobs"
    ids = lambda **p: [j["jobId"] for j in c.get(base, params=p).json()["jobs"] or []]  # noqa: E731
    assert mine in ids(allusers="false", whatever="ignored")
    assert mine in ids(account="proj2") and mine not in ids(account="proj1")
    assert mine in ids(time_window="1h") and mine in ids(allusers="true")
    other = api("fireuser2")
    assert mine not in [j["jobId"] for j in other.get(base).json()["jobs"] or []]
    assert mine in [j["jobId"] for j in other.get(base, params={"allusers": "true"}).json()["jobs"] or []]
    # job_info(jobid) sends ?allusers=false to /jobs/{id}: ignored there
    assert c.get(f"{base}/{mine}", params={"allusers": "false", "x": "y"}).status_code == 200


def test_idempotent_submit(api: Api) -> None:
    c = api()
    key = str(uuid.uuid4())
    name = "f7t-idem-" + key[:8]
    first = c.post(f"/compute/{SYSTEM}/jobs", headers={"Idempotency-Key": key},
                   json={"job": {"workingDirectory": home(), "script": "#!/bin/bash\nsleep 1\n", "name": name}})  # fmt: skip
    again = c.post(f"/compute/{SYSTEM}/jobs", headers={"Idempotency-Key": key},
                   json={"job": {"workingDirectory": home(), "script": "#!/bin/bash\nsleep 1\n", "name": name}})  # fmt: skip
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers.get("Idempotent-Replayed") == "true"
    jobs = c.get(f"/compute/{SYSTEM}/jobs", params={"name": name}).json()["jobs"]
    assert len(jobs) == 1
    # another user with the same key gets their own job
    theirs = api("fireuser2").post(f"/compute/{SYSTEM}/jobs", headers={"Idempotency-Key": key},
                                  json={"job": {"workingDirectory": home("fireuser2"), "script": "#!/bin/bash\ntrue\n"}})  # fmt: skip
    assert theirs.status_code == 201 and theirs.json()["jobId"] != first.json()["jobId"]


def test_cancel_attach_and_permissions(api: Api) -> None:
    c = api()
    job_id = submit(c, "#!/bin/bash\nsleep 120\n", name="f7t-cancel").json()["jobId"]
    deadline = time.monotonic() + 240  # the one-node testbed may be busy with other tests' jobs
    while c.get(f"/compute/{SYSTEM}/jobs/{job_id}").json()["jobs"][0]["status"]["state"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    attach = c.put(f"/compute/{SYSTEM}/jobs/{job_id}/attach",
                   json={"command": f"echo attached > {home()}/f7t-attach-{job_id}.out"})  # fmt: skip
    assert attach.status_code == 204, attach.text
    assert_error(api("fireuser2").delete(f"/compute/{SYSTEM}/jobs/{job_id}"), 403)
    assert c.delete(f"/compute/{SYSTEM}/jobs/{job_id}").status_code == 204
    assert wait_done(c, job_id)["status"]["state"] == "CANCELLED"
    assert c.delete(f"/compute/{SYSTEM}/jobs/{job_id}").status_code == 204  # already finished


def test_submit_refused_by_the_scheduler(api: Api) -> None:
    # fireuser2 has no association with proj1: Slurm refuses, and that is 403
    assert_error(submit(api("fireuser2"), account="proj1"), 403, "Unable to submit new job")
    assert_error(submit(api(), partition="no-such-partition"), 400, "Unable to submit new job")


def test_openapi_and_docs(server: ServerProcess) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"].startswith("3.") and document["info"]["version"] == "2.x.x"
    ops = document["paths"]["/compute/{system_name}/jobs"]
    assert ops["post"]["responses"]["201"] and ops["get"]["parameters"]
    assert {"time_window", "name", "allusers", "account"} <= {p["name"] for p in ops["get"]["parameters"]}
    assert "JobModel" in document["components"]["schemas"] and "Job" not in document["components"]["schemas"]
    for page, asset in [("/docs", "/docs/assets/swagger-ui-bundle.js"), ("/redoc", "/redoc/assets/redoc.standalone.js")]:
        html = httpx.get(f"{server.url}{page}")
        assert html.status_code == 200 and asset in html.text and "http" not in html.text.split("<body>")[1]
        js = httpx.get(f"{server.url}{asset}")
        assert js.status_code == 200 and len(js.content) > 100_000
    assert httpx.get(f"{server.url}/docs/assets/../../etc/passwd").status_code == 404


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl(server: ServerProcess) -> None:
    auth = f"Authorization: Bearer {token(server)}"
    out = subprocess.run(
        ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", auth, "-H", "Content-Type: application/json",
         "-d", json.dumps({"job": {"working_directory": home(), "script": "#!/bin/bash\ntrue\n"}}),
         f"{server.url}/compute/{SYSTEM}/jobs"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    body, code = out.stdout.rsplit("\n", 1)
    assert code == "201" and json.loads(body)["jobId"].isdigit()
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", "-H", auth, f"{server.url}/compute/{SYSTEM}/jobs/0"],
                         capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    body, code = out.stdout.rsplit("\n", 1)
    assert code == "404" and json.loads(body)["message"] == "Job not found."
