"""Health through the HTTP API (in process, fake probes): 503 with Retry-After, servicesHealth, liveness."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from f7tproxy.config import Config, S3StagingConfig, Secret

from .fakes import FakeProbe, config
from .inprocess import App, in_process


@pytest.fixture
def probes() -> dict[str, FakeProbe]:
    return {
        "ssh": FakeProbe("ssh", duration=0),
        "scheduler": FakeProbe("scheduler", duration=0),
        "/home": FakeProbe("filesystem", "/home", duration=0),
        "/scratch": FakeProbe("filesystem", "/scratch", duration=0),
        "s3": FakeProbe("s3", duration=0),
    }


async def test_unhealthy_services_get_503_with_retry_after_and_the_probe_message(
    probes: dict[str, FakeProbe],
) -> None:
    async with in_process(config(interval=600, probe_interval=600), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        status, body, _ = await app.get("/compute/fake/probe")
        assert (status, body) == (200, {"ok": "fake"})

        probes["scheduler"].failing = "Slurmctld(primary) at vm is DOWN"
        await app.runtime.health.check_now("fake")
        status, body, headers = await app.get("/compute/fake/probe")
        assert status == 503
        assert body == {
            "errorType": "error",
            "message": "The scheduler service of fake is unhealthy: Slurmctld(primary) at vm is DOWN",
            "data": None,
            "user": "alice",
            "causedBy": None,
        }
        assert 590 <= int(headers["Retry-After"]) <= 600

        probes["ssh"].failing = "Connection refused"
        await app.runtime.health.check_now("fake")
        status, body, _ = await app.get("/compute/fake/probe")
        # a failed ssh probe opens the system's circuit breaker, which answers first
        assert status == 503
        assert body["message"] == "The SSH login node of fake is unreachable (health probe: Connection refused)"
        # status routes answer whatever the health (as in FirecREST)
        status, body, _ = await app.get("/status/systems")
        assert status == 200
        health = {(e["serviceType"], e.get("path")): e for e in body["systems"][0]["servicesHealth"]}
        assert health[("ssh", None)]["healthy"] is False
        assert health[("ssh", None)]["message"].startswith("Connection refused; circuit breaker open since ")
        assert health[("filesystem", "/home")]["healthy"] is True
        assert body["systems"][0]["lastHealthCheck"].endswith("Z")


async def test_filesystem_gate_by_path(probes: dict[str, FakeProbe]) -> None:
    probes["/home"].failing = "Stale file handle"
    async with in_process(config(interval=600, probe_interval=600), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        status, body, _ = await app.get("/filesystem/fake/probe?path=/home/alice/x")
        assert status == 503
        assert body["message"] == "The requested filesystem (/home on fake) is unhealthy: Stale file handle"
        status, _, _ = await app.get("/filesystem/fake/probe?path=/scratch/alice")
        assert status == 200


async def test_liveness_reports_freshness_without_auth(probes: dict[str, FakeProbe]) -> None:
    async with in_process(config(interval=600, probe_interval=600), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        response = await app.client.get("/status/liveness/")
        body = await response.get_json()
        assert set(body["healthcheckRuns"]) == {"fake"} and body["lastUpdate"] == 0 and "stale" not in body


# --------------------------------------------------------------------------- the real routes
# Each request below is one the handler refuses with 400 after the gates (a bad query
# or body field), so nothing reaches SSH: healthy, it gets that 400; with the service it
# uses seen unhealthy, 503 with Retry-After and the probe's message.


def _with_staging(cfg: Config) -> Config:
    staging = S3StagingConfig(
        private_url="http://127.0.0.1:1", public_url="http://127.0.0.1:1",
        access_key_id=Secret("a"), secret_access_key=Secret("b"),
    )  # fmt: skip
    return attrs.evolve(cfg, clusters=(attrs.evolve(cfg.clusters[0], staging=staging),))


async def _refused(app: App, method: str, path: str, json: Any, message: str) -> None:
    status, body, headers = await app.send(method, path, json)
    assert (status, body["message"]) == (503, message)
    assert 590 <= int(headers["Retry-After"]) <= 600


async def test_compute_routes_gate_the_scheduler(probes: dict[str, FakeProbe]) -> None:
    async with in_process(config(interval=600, probe_interval=600), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        status, body, _ = await app.get("/compute/fake/jobs?time_window=1y")
        assert status == 400 and "time_window" in str(body["data"])

        probes["scheduler"].failing = "Slurmctld(primary) at vm is DOWN"
        await app.runtime.health.check_now("fake")
        await _refused(app, "GET", "/compute/fake/jobs?time_window=1y", None,
                       "The scheduler service of fake is unhealthy: Slurmctld(primary) at vm is DOWN")  # fmt: skip
        await _refused(app, "DELETE", "/compute/fake/jobs/1", None,
                       "The scheduler service of fake is unhealthy: Slurmctld(primary) at vm is DOWN")  # fmt: skip
        # the status routes still answer past the gates (here: 404 for an unknown system)
        status, _, _ = await app.get("/status/nosuch/partitions")
        assert status == 404


async def test_filesystem_routes_gate_the_file_system_of_their_paths(probes: dict[str, FakeProbe]) -> None:
    async with in_process(config(interval=600, probe_interval=600), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        ls = "/filesystem/fake/ops/ls?showHidden=maybe&path="
        status, _, _ = await app.get(ls + "/home/alice")
        assert status == 400

        probes["/home"].failing = "Stale file handle"
        await app.runtime.health.check_now("fake")
        home = "The requested filesystem (/home on fake) is unhealthy: Stale file handle"
        await _refused(app, "GET", ls + "/home/alice", None, home)
        status, _, _ = await app.get(ls + "/scratch/alice")
        assert status == 400
        # body paths: the source and the target
        await _refused(app, "POST", "/filesystem/fake/ops/mkdir", {"path": "/home/alice/d", "parent": "maybe"}, home)
        status, _, _ = await app.send("POST", "/filesystem/fake/ops/mkdir", {"path": "/scratch/d", "parent": "maybe"})
        assert status == 400
        symlink = {"sourcePath": "/scratch/alice/x", "linkPath": "/home/alice/x"}
        await _refused(app, "POST", "/filesystem/fake/ops/symlink", symlink, home)


async def test_transfer_routes_gate_the_scheduler_the_paths_and_the_store(probes: dict[str, FakeProbe]) -> None:
    async with in_process(_with_staging(config(interval=600, probe_interval=600)), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        mv = {"sourcePath": "/home/alice/a", "targetPath": "/scratch/alice/b", "account": "not an account"}
        upload = {"path": "/home/alice/big", "transferDirectives": {"transferMethod": "s3", "fileSize": "many"}}
        for path, body in [("/filesystem/fake/transfer/mv", mv), ("/filesystem/fake/transfer/upload", upload)]:
            status, answer, _ = await app.send("POST", path, body)
            assert status == 400, answer

        probes["s3"].failing = "HTTP 503 SlowDown"
        await app.runtime.health.check_now("fake")
        await _refused(app, "POST", "/filesystem/fake/transfer/upload", upload,
                       "The s3 service of fake is unhealthy: HTTP 503 SlowDown")  # fmt: skip
        status, _, _ = await app.send("POST", "/filesystem/fake/transfer/mv", mv)
        assert status == 400  # no staging: the store does not matter

        probes["/scratch"].failing = "Stale file handle"
        await app.runtime.health.check_now("fake")
        await _refused(app, "POST", "/filesystem/fake/transfer/mv", mv,
                       "The requested filesystem (/scratch on fake) is unhealthy: Stale file handle")  # fmt: skip

        probes["scheduler"].failing = "Slurmctld(primary) at vm is DOWN"
        await app.runtime.health.check_now("fake")
        await _refused(app, "POST", "/filesystem/fake/transfer/mv", mv,
                       "The scheduler service of fake is unhealthy: Slurmctld(primary) at vm is DOWN")  # fmt: skip
