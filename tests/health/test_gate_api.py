"""Health through the HTTP API (in process, fake probes): 503 with Retry-After, servicesHealth, liveness."""

from __future__ import annotations

import pytest

from .fakes import FakeProbe, config
from .inprocess import in_process


@pytest.fixture
def probes() -> dict[str, FakeProbe]:
    return {
        "ssh": FakeProbe("ssh", duration=0),
        "scheduler": FakeProbe("scheduler", duration=0),
        "/home": FakeProbe("filesystem", "/home", duration=0),
    }


async def test_unhealthy_services_get_503_with_retry_after_and_the_probe_message(
    probes: dict[str, FakeProbe],
) -> None:
    async with in_process(config(interval=600), probes={"fake": list(probes.values())}) as app:
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
            "user": None,
        }
        assert 590 <= int(headers["Retry-After"]) <= 600

        probes["ssh"].failing = "Connection refused"
        await app.runtime.health.check_now("fake")
        status, body, _ = await app.get("/compute/fake/probe")
        assert status == 503 and body["message"] == "The ssh service of fake is unhealthy: Connection refused"
        # status routes answer whatever the health (as in FirecREST)
        status, body, _ = await app.get("/status/systems")
        assert status == 200
        health = {(e["serviceType"], e.get("path")): e for e in body["systems"][0]["servicesHealth"]}
        assert health[("ssh", None)]["healthy"] is False
        assert health[("ssh", None)]["message"] == "Connection refused"
        assert health[("filesystem", "/home")]["healthy"] is True
        assert body["systems"][0]["lastHealthCheck"].endswith("Z")


async def test_filesystem_gate_by_path(probes: dict[str, FakeProbe]) -> None:
    probes["/home"].failing = "Stale file handle"
    async with in_process(config(interval=600), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        status, body, _ = await app.get("/filesystem/fake/probe?path=/home/alice/x")
        assert status == 503
        assert body["message"] == "The requested filesystem (/home on fake) is unhealthy: Stale file handle"
        status, _, _ = await app.get("/filesystem/fake/probe?path=/scratch/alice")
        assert status == 200


async def test_liveness_reports_freshness_without_auth(probes: dict[str, FakeProbe]) -> None:
    async with in_process(config(interval=600), probes={"fake": list(probes.values())}) as app:
        await app.runtime.health.check_now("fake")
        response = await app.client.get("/status/liveness/")
        body = await response.get_json()
        assert set(body["healthcheckRuns"]) == {"fake"} and body["lastUpdate"] == 0 and "stale" not in body
