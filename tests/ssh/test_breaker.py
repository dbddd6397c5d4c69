"""The circuit breaker: its state machine, and the pool failing fast with it (virtual time)."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from f7tproxy.config import BreakerConfig
from f7tproxy.errors import CircuitOpen, SshConnectFailed, SshLoginRefused
from f7tproxy.ssh import CircuitBreaker, PoolSupervisor

from .fakes import FakeServer, cluster


def breaker(**config: Any) -> tuple[CircuitBreaker, list[str]]:
    changes: list[str] = []
    return CircuitBreaker("fake", BreakerConfig(**config), on_change=lambda state, _e: changes.append(state)), changes


async def test_opens_after_consecutive_failures_and_refuses_at_once(autojump_clock: trio.abc.Clock) -> None:
    b, changes = breaker(failures=3, retry_after=2.0)
    assert b.admit() is False
    b.failure("refused")
    b.failure("refused")
    b.success()  # not consecutive: counting starts again
    b.failure("refused")
    b.failure("refused")
    assert b.state == "closed" and b.admit() is False
    b.failure("connection refused")
    assert b.state == "open" and changes == ["open"]
    with pytest.raises(CircuitOpen) as info:
        b.admit()
    assert info.value.retry_after == 2.0
    assert info.value.message == "The SSH login node of fake is unreachable (connection refused)"
    with pytest.raises(CircuitOpen):
        b.check()
    await trio.sleep(1.2)
    with pytest.raises(CircuitOpen) as info:
        b.admit()
    assert info.value.retry_after == 1.0
    stats = b.statistics()
    assert (stats.state, stats.failures, stats.opened, stats.fast_failed) == ("open", 3, 1, 2)
    assert stats.retry_in == pytest.approx(0.8)


async def test_half_open_lets_one_trial_through_then_closes_or_reopens(autojump_clock: trio.abc.Clock) -> None:
    b, changes = breaker(failures=1, retry_after=2.0)
    b.failure("refused")
    await trio.sleep(2.0)
    b.check()  # would admit: takes nothing
    assert b.statistics().state == "half_open"
    assert b.admit() is True  # the trial
    with pytest.raises(CircuitOpen):
        b.admit()  # one trial at a time
    with pytest.raises(CircuitOpen):
        b.check()
    b.failure("still refused")  # the trial failed: open again, for a full retry_after
    assert b.state == "open"
    b.end_trial()
    await trio.sleep(1.9)
    with pytest.raises(CircuitOpen):
        b.admit()
    await trio.sleep(0.1)
    assert b.admit() is True
    b.end_trial()  # the trial ended without a verdict (e.g. its client went away): another may try
    assert b.admit() is True
    b.success()
    assert b.state == "closed" and b.admit() is False
    assert changes == ["open", "half_open", "open", "half_open", "closed"]


async def test_one_failed_probe_opens_and_a_healthy_probe_closes(autojump_clock: trio.abc.Clock) -> None:
    b, changes = breaker(failures=3)
    b.probe_result(True, "ok")
    assert b.state == "closed"
    b.probe_result(False, "no answer within 10 s")
    assert b.state == "open"
    with pytest.raises(CircuitOpen, match=r"\(health probe: no answer within 10 s\)"):
        b.admit()
    b.probe_result(False, "again")  # stays open: no re-arm, no second change
    b.probe_result(True, "ok")
    assert b.state == "closed" and changes == ["open", "closed"]
    assert b.statistics().failures == 0


# --------------------------------------------------------------------------- in the pool


async def start(nursery: trio.Nursery, server: FakeServer, **pool: Any) -> PoolSupervisor:
    supervisor = PoolSupervisor([cluster(**pool)], connectors={"fake": server})
    await nursery.start(supervisor.run)
    return supervisor


async def lease_once(pool: PoolSupervisor, outcomes: list[tuple[str, float]], **kw: Any) -> None:
    start_at = trio.current_time()
    try:
        async with pool.lease("fake", "alice", **kw) as lease:
            await lease.run(["true"])
        outcome = "ok"
    except (CircuitOpen, SshConnectFailed) as exc:
        outcome = type(exc).__name__
    outcomes.append((outcome, trio.current_time() - start_at))


async def test_refused_connects_open_the_breaker_and_no_request_waits(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    server = FakeServer(slots=10, connect_delay=0.05, fail_connects=SshConnectFailed("connection refused"))
    pool = await start(nursery, server, lease_timeout=30, max_connections_per_user=4)
    outcomes: list[tuple[str, float]] = []
    async with trio.open_nursery() as n:
        for _ in range(40):
            n.start_soon(lease_once, pool, outcomes)
    assert len(outcomes) == 40
    assert max(t for _, t in outcomes) < 1.0  # nobody waited out the 30 s lease timeout
    assert {o for o, _ in outcomes} <= {"CircuitOpen", "SshConnectFailed"}
    assert any(o == "CircuitOpen" for o, _ in outcomes)
    stats = pool.statistics().systems[0]
    assert stats.breaker.state == "open" and stats.breaker.opened == 1
    # while open: refused at once, and no connect is tried
    attempts = len(server.tokens)
    outcomes.clear()
    await lease_once(pool, outcomes)
    assert outcomes == [("CircuitOpen", 0.0)] and len(server.tokens) == attempts
    with pytest.raises(CircuitOpen):
        pool.check_breaker("fake")
    # after retry_after one trial goes through; the login node is back: closed again
    server.fail_connects = None
    await trio.sleep(2.0)
    async with trio.open_nursery() as n:
        for _ in range(5):
            n.start_soon(lease_once, pool, outcomes)
    assert sorted(o for o, _ in outcomes[1:]) == ["CircuitOpen"] * 4 + ["ok"]
    assert pool.statistics().systems[0].breaker.state == "closed"
    outcomes.clear()
    await lease_once(pool, outcomes)
    assert outcomes[0][0] == "ok"
    s = pool.statistics().user("fake", "alice")
    assert s is not None and (s.waiters, s.slots_in_use, s.connecting) == (0, 0, 0)


async def test_a_refused_login_does_not_open_the_breaker(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    server = FakeServer(slots=10, fail_connects=SshLoginRefused("SSH login as alice was refused"))
    pool = await start(nursery, server)
    for _ in range(5):
        with pytest.raises(SshLoginRefused):
            async with pool.lease("fake", "alice"):
                pass
    assert pool.statistics().systems[0].breaker.state == "closed"


async def test_waiters_are_answered_when_the_breaker_opens_and_probes_pass(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    # A hung login node: commands never end, so later requests queue for a slot.
    server = FakeServer(slots=10, duration=1000.0)
    pool = await start(nursery, server, lease_timeout=30, max_connections_per_user=1, sessions_per_connection=2)
    outcomes: list[tuple[str, float]] = []
    async with trio.open_nursery() as n:
        for _ in range(5):
            n.start_soon(lease_once, pool, outcomes)
        await trio.sleep(1.0)
        s = pool.statistics().user("fake", "alice")
        assert s is not None and (s.slots_in_use, s.waiters) == (2, 3)
        pool.probe_result("fake", False, "no answer within 10 s")  # the ssh probe saw the hang
        await trio.sleep(0.001)
        assert [o for o, _ in outcomes] == ["CircuitOpen"] * 3
        assert max(t for _, t in outcomes) == pytest.approx(1.0)  # at once, not after 30 s
        s = pool.statistics().user("fake", "alice")
        assert s is not None and s.waiters == 0
        # health probes pass the open breaker (they are how it sees the node return)
        server.duration = 0.1
        with trio.move_on_after(0.5) as scope:
            async with pool.lease("fake", "firesrv", probe=True) as lease:
                await lease.run(["true"])
        assert not scope.cancelled_caught
        assert pool.statistics().systems[0].breaker.state == "closed"  # a command worked
        n.cancel_scope.cancel()


async def test_a_command_running_past_stall_after_is_reported(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    server = FakeServer(slots=10, duration=12.0)
    pool = await start(nursery, server)
    stalls: list[float] = []
    pool.on_stall(lambda system: stalls.append(trio.current_time()))
    outcomes: list[tuple[str, float]] = []
    await lease_once(pool, outcomes)
    # runs 0.1 s - 12.1 s; stall_after 1 s (watched every 0.25 s), then at most once per stall_recheck (5 s)
    assert stalls == [1.25, 6.25, 11.25]
    await trio.sleep(20)
    assert stalls == [1.25, 6.25, 11.25]  # nothing runs: quiet
