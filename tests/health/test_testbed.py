"""Health against the real testbed: every probe, and transitions when sshd or slurmctld stops.

The testbed is shared with other tests running at the same time: a part is
stopped only for as long as a transition needs, and always started again.
"""

from __future__ import annotations

import functools

import pytest
import trio

from f7tproxy import config as config_mod
from f7tproxy.health import ServiceHealth

from ..conftest import Testbed
from .inprocess import AUTH, App, in_process

pytestmark = pytest.mark.testbed

WAIT = 60.0
"""Bound on every wait for a state change (the probes themselves run every second)."""


def cluster_config(testbed: Testbed, *, interval: float) -> config_mod.Config:
    return config_mod.from_mapping({
        "auth": AUTH,
        "clusters": [{
            "name": "testbed",
            "ssh": {
                "host": "127.0.0.1", "port": 2222, "known_hosts": str(testbed.known_hosts),
                "credentials": {"mode": "ssh_ca", "ca_key": {"file": str(testbed.user_ca)}},
                "pool": {"connect_timeout": 3, "login_timeout": 3},
            },
            "service_account": "firesrv",
            "file_systems": [{"path": "/home"}, {"path": "/scratch"}],
            "staging": {
                "private_url": testbed.env["F7T_S3_URL"], "public_url": testbed.env["F7T_S3_URL"],
                "access_key_id": testbed.env["F7T_S3_ACCESS_KEY"],
                "secret_access_key": testbed.env["F7T_S3_SECRET_KEY"],
            },
            "probes": {"interval": interval, "services": {s: {"timeout": 5} for s in ("ssh", "scheduler", "filesystem", "s3")}},
        }],
    })  # fmt: skip




async def ctl(testbed: Testbed, action: str, part: str) -> None:
    await trio.to_thread.run_sync(functools.partial(testbed.ctl, action, part, timeout=300))


def result(app: App, label: str) -> ServiceHealth:
    return next(r for r in app.runtime.health.results("testbed") if r.label == label)


async def wait_for(app: App, label: str, healthy: bool) -> ServiceHealth:
    """Wait (bounded) until the probe loop itself reports `label` as `healthy`."""
    with trio.fail_after(WAIT):
        while (r := result(app, label)).healthy is not healthy:
            await trio.sleep(0.2)
    return r


async def test_every_probe_is_healthy_on_the_testbed(testbed: Testbed) -> None:
    async with in_process(cluster_config(testbed, interval=600), start_pool=True) as app:
        results = await app.runtime.health.check_now("testbed")
        assert {r.label: (r.healthy, r.message) for r in results} == {
            "ssh": (True, "ok"),
            "scheduler": (True, "Slurmctld(primary) at vm is UP"),
            "filesystem /home": (True, "ok"),
            "filesystem /scratch": (True, "ok"),
            "s3": (True, results[-1].message),
        }
        assert results[-1].message is not None and results[-1].message.startswith("ok (")


async def test_sshd_down_turns_ssh_unhealthy_and_requests_get_503_until_it_is_back(testbed: Testbed) -> None:
    async with in_process(cluster_config(testbed, interval=1), start_pool=True) as app:
        await wait_for(app, "ssh", True)
        assert (await app.get("/compute/testbed/probe"))[0] == 200
        try:
            await ctl(testbed, "down", "sshd")
            down = await wait_for(app, "ssh", False)
            status, body, headers = await app.get("/compute/testbed/probe")
            assert status == 503, body
            # the failed probe (or the dropped connections before it) opened the circuit breaker
            assert body["message"].startswith("The SSH login node of testbed is unreachable ("), body
            assert down.message is not None
            assert int(headers["Retry-After"]) >= 1
        finally:
            await ctl(testbed, "up", "sshd")
        await wait_for(app, "ssh", True)
        await wait_for(app, "scheduler", True)
        assert (await app.get("/compute/testbed/probe"))[0] == 200


async def test_slurmctld_down_turns_the_scheduler_unhealthy_but_not_ssh(testbed: Testbed) -> None:
    async with in_process(cluster_config(testbed, interval=600), start_pool=True) as app:
        await app.runtime.health.check_now("testbed")
        try:
            await ctl(testbed, "down", "slurmctld")
            with trio.fail_after(WAIT):
                results = {r.label: r for r in await app.runtime.health.check_now("testbed")}
            assert results["ssh"].healthy is True
            assert results["scheduler"].healthy is False
            assert "DOWN" in (results["scheduler"].message or "")
            status, body, _ = await app.get("/compute/testbed/probe")
            assert status == 503 and body["message"].startswith("The scheduler service of testbed is unhealthy: ")
        finally:
            await ctl(testbed, "up", "slurmctld")
        with trio.fail_after(WAIT):
            results = {r.label: r for r in await app.runtime.health.check_now("testbed")}
        assert results["scheduler"].healthy is True
        assert (await app.get("/compute/testbed/probe"))[0] == 200
