"""The login node's sshd fails under load: stopped (every session with it), then hung (SIGSTOP)."""

from __future__ import annotations

import pathlib
import signal

import pytest
import trio

from ..conftest import Testbed
from ..gateway import Gateway
from .conftest import (
    Load,
    figures,
    ls_call,
    outage,
    quiet_processes,
    settled_pool,
    signal_all,
    sshd_pids,
    user_processes,
)

pytestmark = [pytest.mark.testbed, pytest.mark.faults]

CLIENTS = 40
OUTAGE = 8.0


async def _warm(load: Load, nursery: trio.Nursery) -> None:
    nursery.start_soon(load.run)
    await trio.sleep(3.0)  # connections open, steady state
    assert any(s.status == 200 for s in load.samples), load.samples[:5]


def _check_outage(fig: dict[str, object]) -> None:
    during = fig["during"]
    assert isinstance(during, dict)
    assert fig["bare_500"] == 0 and fig["dropped_or_timeout"] == 0, fig
    assert fig["errors_without_retry_after_during"] == 0, fig
    assert set(during) <= {"503", "504", "424", "200"}, fig
    assert fig["recovery_s"] is not None and fig["recovery_s"] <= 3.0, fig  # target 2 s; headroom for a busy box
    assert fig["after"].get("200", 0) > 0  # type: ignore[attr-defined]


async def test_sshd_stopped_then_started(testbed: Testbed, gateway: Gateway, tmp_path: pathlib.Path) -> None:
    assert user_processes() == [], "fireuser has processes before the test"
    load = Load(gateway.url, gateway.token(), [ls_call()], clients=CLIENTS)
    async with trio.open_nursery() as n:
        await _warm(load, n)
        fault_at, _, restored_at = await outage(testbed, "sshd", OUTAGE, warm=0)
        await trio.sleep(4.0)
        load.stop()
    fig = figures("sshd stopped", load.samples, fault_at, restored_at)
    _check_outage(fig)
    # fail fast: past the first second of the outage, answers come within 2 s
    assert fig["slowest_during_started_after_1s"] <= 2.0, fig
    assert fig["during"].get("503", 0) > 0, fig  # type: ignore[attr-defined]
    await settled_pool(tmp_path)
    assert await quiet_processes() == []


async def test_hung_login_node_then_resumed(testbed: Testbed, gateway: Gateway, tmp_path: pathlib.Path) -> None:
    """sshd's listener and every session process stopped (SIGSTOP): TCP still connects, nothing answers."""
    assert user_processes() == [], "fireuser has processes before the test"
    load = Load(gateway.url, gateway.token(), [ls_call()], clients=CLIENTS)
    async with trio.open_nursery() as n:
        await _warm(load, n)
        stopped = sshd_pids(testbed)
        fault_at = trio.current_time()
        try:
            signal_all(stopped, signal.SIGSTOP)
            await trio.sleep(OUTAGE)
        finally:
            signal_all(stopped, signal.SIGCONT)
        restored_at = trio.current_time()
        await trio.sleep(4.0)
        load.stop()
    fig = figures("sshd hung (SIGSTOP)", load.samples, fault_at, restored_at)
    _check_outage(fig)
    # a hang is seen by keepalives (about 2 s here) or the ssh probe (2 s): then everyone fails
    # fast, and the requests already running are cancelled and answered 503 at once
    assert fig["slowest_during"] <= 4.0, fig
    assert fig["slowest_during_started_after_1s"] <= 4.0, fig
    assert fig["during"].get("503", 0) > 0, fig  # type: ignore[attr-defined]
    await settled_pool(tmp_path)
    assert await quiet_processes() == []
