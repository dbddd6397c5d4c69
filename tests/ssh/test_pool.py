"""The pool's logic against in-memory connections, in virtual time (trio's autojump clock)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import trio
import trio.testing

from f7tproxy.errors import CommandTimeout, HostKeyMismatch, NotFound, PoolBusy, RateLimited, SshConnectFailed
from f7tproxy.observability import Metrics
from f7tproxy.ssh import PoolStatistics, PoolSupervisor, UserPoolStatistics

from .fakes import FakeServer, cluster

StartPool = Callable[..., Awaitable[PoolSupervisor]]
E = TypeVar("E", bound=BaseException)


@pytest.fixture
def start_pool(nursery: trio.Nursery) -> StartPool:
    async def start(server: FakeServer, **pool: Any) -> PoolSupervisor:
        supervisor = PoolSupervisor([cluster(**pool)], connectors={"fake": server})
        await nursery.start(supervisor.run)
        return supervisor

    return start


def stats(pool: PoolSupervisor, user: str) -> UserPoolStatistics:
    snapshot = pool.statistics()
    assert isinstance(snapshot, PoolStatistics)
    found = snapshot.user("fake", user)
    assert found is not None
    return found


async def run_one(pool: PoolSupervisor, user: str, results: list[str], **kw: object) -> None:
    async with pool.lease("fake", user, **kw) as lease:  # type: ignore[arg-type]
        result = await lease.run(["echo", user])
        results.append(result.stdout)


async def failures(pool: PoolSupervisor, count: int, caught: type[E]) -> list[E]:
    """Run `count` commands of alice at once; the `caught` errors they raised."""
    errors: list[E] = []

    async def one() -> None:
        try:
            await run_one(pool, "alice", [])
        except caught as exc:
            errors.append(exc)

    async with trio.open_nursery() as n:
        for _ in range(count):
            n.start_soon(one)
    return errors


async def test_many_commands_stay_within_limits(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    server = FakeServer(slots=10)
    pool = await start_pool(server, sessions_per_connection=9, max_connections_per_user=4, lease_timeout=1000)
    results: list[str] = []
    async with trio.open_nursery() as n:
        for _ in range(200):
            n.start_soon(run_one, pool, "alice", results)
    assert results == ["out"] * 200
    assert server.max_per_connection == 9
    assert server.max_running == 36
    assert len(server.connections) == 4
    s = stats(pool, "alice")
    assert (s.leases, s.commands, s.failures, s.connects, s.slots_in_use, s.waiters) == (200, 200, 0, 4, 0, 0)
    assert s.connections == 4 and s.slots == 36


async def test_commands_are_quoted_and_wrapped_in_timeout(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    server = FakeServer(slots=10)
    pool = await start_pool(server, command_timeout=30)
    async with pool.lease("fake", "alice") as lease:
        await lease.run(["ls", "-l", "/home/a b; rm -rf ~"], timeout=7.5)
        await lease.run(["true"])
    assert server.commands == [
        "exec timeout --kill-after=2s 10s ls -l '/home/a b; rm -rf ~'",
        "exec timeout --kill-after=2s 32s true",
    ]


async def test_waiters_of_one_user_are_served_in_order(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    server = FakeServer(slots=2, duration=1)
    pool = await start_pool(server, sessions_per_connection=1, max_connections_per_user=1, lease_timeout=1000)
    order: list[int] = []

    async def take(i: int) -> None:
        async with pool.lease("fake", "alice") as lease:
            order.append(i)
            await lease.run(["true"])

    async with trio.open_nursery() as n:
        for i in range(10):
            n.start_soon(take, i)
            await trio.sleep(0.01)  # arrive in order
    assert order == list(range(10))


async def test_busy_after_the_lease_timeout(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    server = FakeServer(slots=2, duration=100)
    pool = await start_pool(server, sessions_per_connection=1, max_connections_per_user=1, lease_timeout=3)
    async with trio.open_nursery() as n:
        n.start_soon(run_one, pool, "alice", [])
        await trio.sleep(1)
        started = trio.current_time()
        with pytest.raises(PoolBusy) as caught:
            async with pool.lease("fake", "alice"):
                pass  # pragma: no cover
        assert trio.current_time() - started == pytest.approx(3)
        assert caught.value.retry_after == 3
        assert "alice" in caught.value.message
        n.cancel_scope.cancel()
    s = stats(pool, "alice")
    assert s.busy == 1 and s.waiters == 0 and s.slots_in_use == 0


async def test_a_probe_waits_for_a_busy_slot_past_the_lease_timeout(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    """Busy slots of the service account say nothing about the cluster: a health probe waits for
    one as long as its own deadline allows, where a request would get 429 after `lease_timeout`."""
    server = FakeServer(slots=2, duration=2)
    pool = await start_pool(server, sessions_per_connection=1, max_connections_per_user=1, lease_timeout=0.5)
    results: list[str] = []
    async with trio.open_nursery() as n:
        n.start_soon(run_one, pool, "svc", results)
        await trio.sleep(0.5)
        started = trio.current_time()
        with trio.fail_after(10):
            await run_one(pool, "svc", results, probe=True)
        assert trio.current_time() - started == pytest.approx(1.5 + 2, abs=0.2)
    assert len(results) == 2 and stats(pool, "svc").busy == 0


async def test_a_burst_past_the_wait_is_told_to_retry_as_soon_as_slots_turn_over(
    autojump_clock: trio.abc.Clock, nursery: trio.Nursery
) -> None:
    """120 requests at once on one slot of 0.1 s commands and a 10 s wait: ~100 are served, the
    rest get PoolBusy (429) with a Retry-After of the time their queue takes, not the whole wait."""
    server = FakeServer(slots=2, duration=0.1)
    metrics = Metrics()
    pool = PoolSupervisor(
        [cluster(sessions_per_connection=1, max_connections_per_user=1, lease_timeout=10)],
        connectors={"fake": server}, metrics=metrics,
    )  # fmt: skip
    await nursery.start(pool.run)
    busy = await failures(pool, 120, PoolBusy)
    assert 10 <= len(busy) <= 30
    assert all(isinstance(e, RateLimited) and e.retry_after is not None for e in busy)
    assert {e.retry_after for e in busy} <= {1, 2}  # ~10 commands/s drain the ~20 left behind in 2 s
    assert stats(pool, "alice").busy == len(busy)
    assert metrics.registry.get_sample_value("f7tproxy_pool_busy_total", {"system": "fake"}) == len(busy)


async def test_two_users_both_progress_at_the_system_limit(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    """Alice floods the system; Bob, arriving later, is not starved."""
    server = FakeServer(slots=3, duration=1)
    pool = await start_pool(
        server, sessions_per_connection=2, max_connections_per_user=2, max_connections=2, lease_timeout=1000
    )
    done: dict[str, list[float]] = {"alice": [], "bob": []}

    async def flood(user: str, count: int) -> None:
        async def one() -> None:
            async with pool.lease("fake", user) as lease:
                await lease.run(["true"])
                done[user].append(trio.current_time())

        async with trio.open_nursery() as n:
            for _ in range(count):
                n.start_soon(one)

    t0 = trio.current_time()
    async with trio.open_nursery() as n:
        n.start_soon(flood, "alice", 200)
        await trio.sleep(5)
        n.start_soon(flood, "bob", 10)
    # Alice alone would need 200 / 4 = 50 s; Bob must not wait for her to finish.
    assert len(done["bob"]) == 10 and len(done["alice"]) == 200
    assert max(done["bob"]) - t0 < 5 + 15
    assert len(server.open_connections()) <= 2
    snapshot = pool.statistics().systems[0]
    assert snapshot.connections <= 2


async def test_idle_connections_are_reaped(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    server = FakeServer(slots=3)
    pool = await start_pool(server, idle_timeout=60)
    await run_one(pool, "alice", [])
    await trio.sleep(50)
    assert stats(pool, "alice").connections == 1
    assert 50 <= stats(pool, "alice").idle_seconds < 51
    await trio.sleep(30)
    assert stats(pool, "alice").connections == 0
    assert stats(pool, "alice").reaped == 1
    assert server.open_connections() == []


async def test_a_broken_connection_is_dropped_and_the_next_lease_reconnects(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    server = FakeServer(slots=3)
    pool = await start_pool(server)
    await run_one(pool, "alice", [])
    await server.connections[0].aclose()  # the server went away
    await trio.sleep(0.1)
    assert stats(pool, "alice").drops == 1
    assert stats(pool, "alice").connections == 0
    results: list[str] = []
    await run_one(pool, "alice", results)
    assert results == ["out"]
    s = stats(pool, "alice")
    assert (s.connects, s.reconnects, s.drops) == (2, 1, 1)


async def test_a_command_moves_off_a_connection_that_closed_before_it_started(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    server = FakeServer(slots=3)
    pool = await start_pool(server)
    async with pool.lease("fake", "alice") as lease:
        server.connections[0].closed.set()  # closed, and the pool has not noticed yet
        result = await lease.run(["true"])
    assert result.ok
    assert len(server.connections) == 2


async def test_refused_channels_are_retried(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    server = FakeServer(slots=3, refuse_channels=2)
    pool = await start_pool(server)
    async with pool.lease("fake", "alice") as lease:
        assert (await lease.run(["true"])).ok
    server.refuse_channels = 100
    async with pool.lease("fake", "alice") as lease:
        with pytest.raises(SshConnectFailed, match="refused a channel"):
            await lease.run(["true"])
    assert stats(pool, "alice").failures == 1


async def test_streams_are_counted_retried_and_bounded_like_commands(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    server = FakeServer(slots=3, refuse_channels=2)
    pool = await start_pool(server)
    async with pool.lease("fake", "alice") as lease:
        async with lease.stream(["cat"]) as proc:
            assert proc.exit_status == 0
        with pytest.raises(CommandTimeout, match="'cat' ran past its 2 s deadline"):
            async with lease.stream(["cat"], timeout=2):
                await trio.sleep(5)
    assert (stats(pool, "alice").commands, stats(pool, "alice").failures) == (2, 1)
    assert all("timeout" in command for command in server.commands)


async def test_a_timeout_names_the_program_not_its_wrapper(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    pool = await start_pool(FakeServer(slots=1))
    async with pool.lease("fake", "alice") as lease:
        with pytest.raises(CommandTimeout, match="'sbatch' ran past its 2 s deadline"):
            async with lease.stream(["env", "-u", "X", "SLURM_X=1", "sbatch", "--parsable"], timeout=2):
                await trio.sleep(5)


async def test_a_connect_failure_reaches_every_waiter(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    server = FakeServer(slots=3, fail_connects=HostKeyMismatch("SSH host key of x did not match"))
    pool = await start_pool(server, max_connections_per_user=1)
    errors = await failures(pool, 5, HostKeyMismatch)
    assert len(errors) == 5 and len({id(e) for e in errors}) == 5
    assert all("did not match" in str(e) for e in errors)
    assert len(server.tokens) == 1  # one attempt, not one per waiter
    s = stats(pool, "alice")
    assert (s.connecting, s.connections, s.waiters) == (0, 0, 0)


async def test_a_cancelled_waiter_leaves_nothing_behind(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    server = FakeServer(slots=2, duration=10)
    pool = await start_pool(server, sessions_per_connection=1, max_connections_per_user=1, lease_timeout=100)
    async with trio.open_nursery() as n:
        n.start_soon(run_one, pool, "alice", [])
        await trio.sleep(1)
        with trio.move_on_after(1):
            await run_one(pool, "alice", [])
        assert stats(pool, "alice").waiters == 0
    s = stats(pool, "alice")
    assert (s.slots_in_use, s.waiters, s.leases) == (0, 0, 1)


async def test_the_token_of_the_request_opens_the_connection(
    autojump_clock: trio.abc.Clock, start_pool: StartPool
) -> None:
    server = FakeServer(slots=3)
    pool = await start_pool(server)
    await run_one(pool, "alice", [], token="jwt-of-alice")
    assert server.tokens == ["jwt-of-alice"]


async def test_unknown_system(autojump_clock: trio.abc.Clock, start_pool: StartPool) -> None:
    pool = await start_pool(FakeServer(slots=3))
    with pytest.raises(NotFound):
        async with pool.lease("nope", "alice"):
            pass  # pragma: no cover


async def test_stopping_the_pool_closes_connections(autojump_clock: trio.abc.Clock) -> None:
    server = FakeServer(slots=3)
    pool = PoolSupervisor([cluster()], connectors={"fake": server})
    async with trio.open_nursery() as n:
        await n.start(pool.run)
        await run_one(pool, "alice", [])
        await run_one(pool, "bob", [])
        assert len(server.open_connections()) == 2
        n.cancel_scope.cancel()
    assert server.open_connections() == []
