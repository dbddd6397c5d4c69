"""A request cancelled by its client, or a command killed by its deadline, leaves no process of
the user on the cluster, and the next command on that slot succeeds: with a persistent runner
per slot (the default) and with a channel per command (scripts/test runs both)."""

from __future__ import annotations

import functools
import os
import pathlib
import subprocess
import time
from collections.abc import Iterator

import attrs
import httpx
import pytest
import trio
import yaml

from f7tproxy.config import SshConfig

from ..conftest import Testbed
from ..faults.conftest import admin
from ..gateway import SYSTEM, Gateway, gateway_config, remote, scratch
from ..server_process import ServerProcess

pytestmark = pytest.mark.testbed

TIMEOUT = 4.0
"""The gateway's command_timeout here: long enough for a listing on a busy box, short for a test."""
BIG = 2 << 30
"""The large file: sparse, so it costs the disk nothing."""
LIMIT = 1 << 30
"""max_ops_file_size here: a view of LIMIT bytes streams for seconds through SSH."""


@attrs.frozen
class Setup:
    gateway: Gateway
    tmp: pathlib.Path


@pytest.fixture(scope="module")
def one_slot(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A gateway whose fireuser has exactly one channel slot: every command runs on the same one."""
    tmp = tmp_path_factory.mktemp("one-slot")
    config = gateway_config(testbed, max_ops_file_size=LIMIT)
    config["clusters"][0]["ssh"]["pool"].update(
        {"sessions_per_connection": 1, "max_connections_per_user": 1, "command_timeout": TIMEOUT}
    )
    config["server"]["admin_socket"] = str(tmp / "admin.sock")
    path = tmp / "f7tproxy.yaml"
    path.write_text(yaml.safe_dump(config))
    with ServerProcess(path) as process:
        yield Setup(Gateway(url=process.url, process=process), tmp)


@pytest.fixture
def workdir(testbed: Testbed) -> Iterator[str]:
    yield from scratch(testbed, prefix="cleanup")


def processes_naming(text: str, user: str = "fireuser") -> list[str]:
    """The user's processes on the (local) cluster whose command line contains `text`."""
    out = subprocess.run(["pgrep", "-u", user, "-a", "-f", "--", text], capture_output=True, text=True,
                         timeout=10).stdout  # fmt: skip
    return [line for line in out.splitlines() if line.strip()]


async def gone(text: str, *, within: float = 10.0) -> list[str]:
    """The user's processes naming `text` once there are none, or what is left after `within` s."""
    left: list[str] = []
    with trio.move_on_after(within):
        while left := await trio.to_thread.run_sync(processes_naming, text):
            await trio.sleep(0.2)
    return left


def expected_mode() -> str:
    return os.environ.get("F7T_TEST_SSH_RUNNER") or str(attrs.fields(SshConfig).runner.default)


def fireuser_pool(setup: Setup) -> dict[str, object]:
    (mine,) = [p for p in admin(setup.tmp, cmd="snapshot")["pools"] if p["system"] == SYSTEM and p["user"] == "fireuser"]
    return mine  # type: ignore[no-any-return]


async def small_view(setup: Setup, workdir: str) -> dict[str, object]:
    """A small view on the one slot answers at once; the user's pool statistics after it."""
    async with httpx.AsyncClient(base_url=setup.gateway.url, timeout=30,
                                 headers={"Authorization": f"Bearer {setup.gateway.token()}"}) as client:  # fmt: skip
        r = await client.get(f"/filesystem/{SYSTEM}/ops/view", params={"path": f"{workdir}/small"})
    assert r.status_code == 200, r.text
    assert r.json()["output"] == "small\n"
    return await trio.to_thread.run_sync(fireuser_pool, setup)


def same_slot(before: dict[str, object], after: dict[str, object]) -> None:
    """The next command ran on the same connection and, with runners, on the same runner."""
    keys = ("connections", "connects", "drops", "runner_starts", "runner_restarts")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}, (before, after)
    assert after["connections"] == 1
    # With runners each connection's one slot started one, never restarted; else there are none.
    assert after["runner_starts"] == (after["connects"] if expected_mode() == "auto" else 0), after
    assert after["runner_restarts"] == 0, after


async def test_a_cancelled_view_of_a_large_file_leaves_no_process(
    testbed: Testbed, one_slot: Setup, workdir: str
) -> None:
    big = f"{workdir}/big"
    remote(testbed, f"truncate -s {BIG} {big} && echo small >{workdir}/small")
    before = await small_view(one_slot, workdir)
    token = one_slot.gateway.token()
    seen: list[str] = []
    async with httpx.AsyncClient(base_url=one_slot.gateway.url, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:  # fmt: skip
        async with trio.open_nursery() as n:
            n.start_soon(functools.partial(client.get, f"/filesystem/{SYSTEM}/ops/view", params={"path": big, "size": LIMIT}))
            with trio.fail_after(15):
                while not (seen := await trio.to_thread.run_sync(processes_naming, f"if={big}")):
                    await trio.sleep(0.05)
            n.cancel_scope.cancel()  # the client goes away while dd streams the file
        t0 = time.monotonic()
        assert await gone(big) == [], "the cancelled view's dd is still running"
        took = time.monotonic() - t0
    assert seen and took < 10
    same_slot(before, await small_view(one_slot, workdir))


async def test_a_view_killed_by_its_timeout_leaves_no_process(testbed: Testbed, one_slot: Setup, workdir: str) -> None:
    # A FIFO nobody writes to: dd waits in open() until the deadline kills it.
    fifo = f"{workdir}/never-written"
    remote(testbed, f"mkfifo {fifo} && echo small >{workdir}/small")
    before = await small_view(one_slot, workdir)
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=one_slot.gateway.url, timeout=60,
                                 headers={"Authorization": f"Bearer {one_slot.gateway.token()}"}) as client:  # fmt: skip
        r = await client.get(f"/filesystem/{SYSTEM}/ops/view", params={"path": fifo})
    took = time.monotonic() - t0
    assert r.status_code == 408, r.text
    assert "'dd' ran past its 4 s deadline" in r.json()["message"]
    assert TIMEOUT - 0.5 < took < TIMEOUT + 10
    assert await gone(fifo) == [], "the timed-out view's dd is still running"
    same_slot(before, await small_view(one_slot, workdir))


async def test_the_runner_mode_of_this_run_reaches_the_gateway(testbed: Testbed, one_slot: Setup, workdir: str) -> None:
    """The gateways the tests start run the mode scripts/test asks for (F7T_TEST_SSH_RUNNER, else the default)."""
    remote(testbed, f"echo small >{workdir}/small")
    pool = await small_view(one_slot, workdir)
    assert (pool["runner_starts"] > 0) == (expected_mode() == "auto"), pool  # type: ignore[operator]
    text = httpx.get(f"{one_slot.gateway.url}/metrics", timeout=10).text
    assert ("f7tproxy_ssh_runner_starts_total{" in text) == (expected_mode() == "auto"), text[:2000]
    assert "f7tproxy_ssh_runner_fallbacks_total{" not in text
