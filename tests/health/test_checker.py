"""The checker's logic with fake probes and trio's autojump clock: intervals, deadlines, gating, staleness."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator

import pytest
import trio

from trio.testing import MockClock

from f7tproxy.errors import NotFound, ServiceUnavailable
from f7tproxy.health import STALE_AFTER_INTERVALS, HealthChecker

from .fakes import FakeProbe, config

@pytest.fixture
def probes() -> dict[str, FakeProbe]:
    return {
        "ssh": FakeProbe("ssh"),
        "scheduler": FakeProbe("scheduler"),
        "/home": FakeProbe("filesystem", "/home"),
        "/home/big": FakeProbe("filesystem", "/home/big"),
    }


@pytest.fixture
async def checker(probes: dict[str, FakeProbe], nursery: trio.Nursery) -> AsyncIterator[HealthChecker]:
    checker = HealthChecker(config(), None, probes={"fake": list(probes.values())})
    await nursery.start(checker.run)
    yield checker
    nursery.cancel_scope.cancel()


def by_label(checker: HealthChecker) -> dict[str, object]:
    return {r.label: r.healthy for r in checker.results()}


async def test_every_probe_runs_at_start_and_then_each_interval(
    autojump_clock: MockClock, checker: HealthChecker, probes: dict[str, FakeProbe]
) -> None:
    assert all(r.healthy is None for r in checker.results())
    await trio.sleep(1)
    assert set(by_label(checker).values()) == {True}
    await trio.sleep(10 * 10)
    # one run at start, then one per interval (10 s) after each run ends (0.5 s)
    assert all(9 <= p.calls <= 11 for p in probes.values()), [p.calls for p in probes.values()]


async def test_never_checked_service_is_allowed(autojump_clock: MockClock, probes: dict[str, FakeProbe]) -> None:
    checker = HealthChecker(config(), None, probes={"fake": list(probes.values())})
    checker.gate("fake", "ssh")
    checker.gate_path("fake", "/home/x")
    assert checker.services_health("fake") == []
    assert checker.liveness() == {"healthcheckRuns": {}, "lastUpdate": 0}


async def test_unhealthy_service_is_refused_with_retry_after_and_message(
    autojump_clock: MockClock, checker: HealthChecker, probes: dict[str, FakeProbe]
) -> None:
    probes["scheduler"].failing = "scontrol ping: exit status 1: Slurmctld(primary) at vm is DOWN"
    await trio.sleep(1)
    checker.gate("fake", "ssh")
    with pytest.raises(ServiceUnavailable) as info:
        checker.gate("fake", "scheduler")
    assert info.value.message == (
        "The scheduler service of fake is unhealthy: scontrol ping: exit status 1: Slurmctld(primary) at vm is DOWN"
    )
    # while unhealthy the probe reruns every breaker.probe_interval (1 s), not every interval (10 s):
    # the next check is due 1 s after the first ended (at 0.5 s); Retry-After is at least 1 s
    assert info.value.retry_after == pytest.approx(1.0)
    probes["scheduler"].failing = None
    await trio.sleep(1.6)  # a rerun started at 2 s (or 3 s) and ended 0.5 s later
    checker.gate("fake", "scheduler")


async def test_filesystem_gate_uses_the_longest_prefix(
    autojump_clock: MockClock, checker: HealthChecker, probes: dict[str, FakeProbe]
) -> None:
    probes["/home/big"].failing = "ls: cannot access '/home/big': Stale file handle"
    await trio.sleep(1)
    checker.gate_path("fake", "/home/user/file")
    checker.gate_path("fake", "/home/bigger")  # a sibling, not inside /home/big
    checker.gate_path("fake", "/elsewhere")
    for path in ("/home/big", "/home/big/x/y", "/home/big/x/../z"):
        with pytest.raises(ServiceUnavailable, match=r"filesystem \(/home/big on fake\) is unhealthy: ls: "):
            checker.gate_path("fake", path)
    probes["/home"].failing = "gone"
    await trio.sleep(10.25)
    with pytest.raises(ServiceUnavailable, match=r"\(/home on fake\)"):
        checker.gate_path("fake", "/home/user/file")


async def test_a_hung_probe_times_out_and_blocks_no_other(
    autojump_clock: MockClock, probes: dict[str, FakeProbe], nursery: trio.Nursery
) -> None:
    probes["/home"].duration = math.inf
    # probe_interval=10: the unhealthy probe keeps the 10 s rhythm too (see test_unhealthy_...)
    checker = HealthChecker(config(probe_interval=10), None, probes={"fake": list(probes.values())})
    await nursery.start(checker.run)
    await trio.sleep(1)
    assert by_label(checker) == {"ssh": True, "scheduler": True, "filesystem /home": None, "filesystem /home/big": True}
    await trio.sleep(1.5)  # past the 2 s timeout
    home = next(r for r in checker.results() if r.path == "/home")
    assert home.healthy is False and home.message == "no answer within 2 s"
    assert home.latency == pytest.approx(2.0)
    assert probes["/home"].running == 0  # the hung call was cancelled
    # the others kept their rhythm meanwhile
    await trio.sleep(30)
    assert probes["ssh"].calls == 4 and probes["/home"].calls == 3
    nursery.cancel_scope.cancel()


async def test_state_changes_are_logged_once(
    autojump_clock: MockClock, checker: HealthChecker, probes: dict[str, FakeProbe], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="f7tproxy.health")
    await trio.sleep(1)
    probes["ssh"].failing = "refused"
    await trio.sleep(100)  # ten intervals, all unhealthy
    probes["ssh"].failing = None
    await trio.sleep(20)
    ssh_lines = [r.getMessage() for r in caplog.records if "ssh on fake" in r.getMessage()]
    assert ssh_lines[0] == "health: ssh on fake is healthy"
    assert ssh_lines[1] == "health: ssh on fake is unhealthy: refused"
    assert ssh_lines[2].startswith("health: ssh on fake is healthy again after ")
    assert len(ssh_lines) == 3
    assert [(e.service, e.healthy) for e in checker.events] == [("ssh", False), ("ssh", True)]


async def test_check_now_runs_at_once_even_while_a_probe_runs(
    autojump_clock: MockClock, probes: dict[str, FakeProbe], nursery: trio.Nursery
) -> None:
    checker = HealthChecker(config(probe_interval=10), None, probes={"fake": list(probes.values())})
    await nursery.start(checker.run)
    await trio.sleep(1)
    probes["ssh"].failing = "down"
    start = trio.current_time()
    results = await checker.check_now("fake")
    assert trio.current_time() - start == pytest.approx(0.5)
    assert {r.label: r.healthy for r in results}["ssh"] is False
    assert probes["ssh"].calls == 2
    # asked while a probe runs: that run ends, then one more starts
    probes["ssh"].duration = 1.5
    await trio.sleep(10.5)  # the 10 s interval is up (at 11.5 s): the scheduled run is in progress
    assert probes["ssh"].running == 1
    probes["ssh"].failing = None
    calls = probes["ssh"].calls
    results = await checker.check_now("FAKE")
    assert probes["ssh"].calls == calls + 1
    assert {r.label: r.healthy for r in results}["ssh"] is True
    with pytest.raises(NotFound):
        await checker.check_now("nope")


async def test_stale_results_count_as_unhealthy(autojump_clock: MockClock, probes: dict[str, FakeProbe]) -> None:
    checker = HealthChecker(config(), None, probes={"fake": list(probes.values())})
    async with trio.open_nursery() as nursery:
        await nursery.start(checker.run)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()  # the checker stops: results age
    checker.gate("fake", "ssh")
    assert "stale" not in checker.liveness()
    await trio.sleep(STALE_AFTER_INTERVALS * 10 + 2 + 1)
    with pytest.raises(ServiceUnavailable, match=r"no fresh health check for 3\d s \(last result: ok\)"):
        checker.gate("fake", "ssh")
    entries = checker.services_health("fake")
    assert entries is not None and not any(e["healthy"] for e in entries)
    live = checker.liveness()
    assert live["lastUpdate"] >= 33
    assert {(s["serviceType"], s["path"]) for s in live["stale"]} == {
        ("ssh", None), ("scheduler", None), ("filesystem", "/home"), ("filesystem", "/home/big"),
    }
    with pytest.raises(ServiceUnavailable, match="not running"):
        await checker.check_now("fake")


async def test_services_health_has_firecrest_shape(autojump_clock: MockClock, checker: HealthChecker) -> None:
    await trio.sleep(1)
    entries = checker.services_health("fake")
    assert entries is not None
    assert [e["serviceType"] for e in entries] == ["ssh", "scheduler", "filesystem", "filesystem"]
    assert set(entries[0]) == {"serviceType", "lastChecked", "latency", "healthy", "message"}
    assert set(entries[2]) == {"serviceType", "lastChecked", "latency", "healthy", "message", "path"}
    assert entries[2]["path"] == "/home" and entries[0]["healthy"] is True
    assert entries[0]["lastChecked"].endswith("Z") and entries[0]["latency"] == pytest.approx(0.5)
    assert checker.last_health_check("fake") is not None
    assert checker.services_health("unknown") is None
