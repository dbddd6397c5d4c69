"""The pool against the testbed's real sshd (127.0.0.1:2222, MaxSessions 64)."""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import signal
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pytest
import trio

from f7tproxy.config import Secret, SshServiceCredentials, StaticKey, StaticKeysCredentials
from f7tproxy.errors import CommandTimeout, HostKeyMismatch, OutputTooLarge, SshConnectionLost
from f7tproxy.ssh import PoolSupervisor
from f7tproxy._aio import import_private_key

from .conftest import TESTBED_SYSTEM, StartPool, fireuser_connection
from .keyservice import KeyServiceStub, serve_key_service

if TYPE_CHECKING:
    from ..conftest import Testbed

pytestmark = pytest.mark.testbed


async def remote_pids(testbed: Testbed, user: str, pattern: str) -> list[str]:
    """Processes of `user` whose command line matches `pattern`, seen over a separate ssh login."""
    for _ in range(3):
        done = await trio.to_thread.run_sync(lambda: testbed.ssh(user, f"pgrep -u {user} -f '{pattern}'", timeout=30))
        if done.returncode != 255:  # 255: ssh itself failed (the shared sshd restarted by another test?)
            break
        await trio.sleep(1)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.split()


async def wait_until_gone(testbed: Testbed, user: str, pattern: str) -> list[str]:
    """Poll (bounded) until no process matches; returns what is left."""
    left = await remote_pids(testbed, user, pattern)
    for _ in range(10):
        if not left:
            break
        await trio.sleep(0.3)
        left = await remote_pids(testbed, user, pattern)
    return left


async def test_200_concurrent_commands_within_the_limits(testbed_pool: StartPool) -> None:
    # As if sshd allowed MaxSessions 10: at most 9 channels per connection.
    pool = await testbed_pool(sessions_per_connection=9, max_connections_per_user=4, lease_timeout=60)
    peak = {"connections": 0, "in_use": 0}
    outputs: list[str] = []

    async def watch() -> None:
        while True:
            s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
            if s is not None:
                peak["connections"] = max(peak["connections"], s.connections + s.connecting)
                peak["in_use"] = max(peak["in_use"], s.slots_in_use)
            await trio.sleep(0.005)

    async def one(i: int) -> None:
        async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
            result = await lease.run(["echo", f"n{i}"], timeout=60)
        assert result.ok, result
        outputs.append(result.stdout)

    with trio.fail_after(120):
        async with trio.open_nursery() as n:
            n.start_soon(watch)
            async with trio.open_nursery() as workers:
                for i in range(200):
                    workers.start_soon(one, i)
            n.cancel_scope.cancel()
    assert sorted(outputs) == sorted(f"n{i}\n" for i in range(200))
    assert peak["connections"] <= 4 and peak["in_use"] <= 36
    s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
    assert s is not None
    assert (s.commands, s.failures, s.busy, s.slots_in_use, s.waiters) == (200, 0, 0, 0, 0)


async def test_two_users_under_load_both_progress(testbed_pool: StartPool) -> None:
    pool = await testbed_pool(
        sessions_per_connection=4, max_connections_per_user=2, max_connections=2, lease_timeout=60
    )
    done = {"fireuser": 0, "fireuser2": 0}

    async def load(user: str, count: int) -> None:
        async def one() -> None:
            async with pool.lease(TESTBED_SYSTEM, user) as lease:
                result = await lease.run(["sh", "-c", "sleep 0.05; id -un"], timeout=60)
            assert result.stdout == f"{user}\n"
            done[user] += 1

        async with trio.open_nursery() as n:
            for _ in range(count):
                n.start_soon(one)

    with trio.fail_after(120):
        async with trio.open_nursery() as n:
            n.start_soon(load, "fireuser", 120)
            await trio.sleep(0.2)
            n.start_soon(load, "fireuser2", 30)
    assert done == {"fireuser": 120, "fireuser2": 30}
    snapshot = pool.statistics().systems[0]
    assert snapshot.connections <= 2


async def test_idle_connections_are_closed(testbed_pool: StartPool) -> None:
    # Real time: the connection is a real one (the logic is tested under the autojump clock in test_pool.py).
    pool = await testbed_pool(idle_timeout=0.5)
    async with pool.lease(TESTBED_SYSTEM, "fireuser2") as lease:
        assert (await lease.run(["true"])).ok
    with trio.fail_after(10):
        while (s := pool.statistics().user(TESTBED_SYSTEM, "fireuser2")) and s.connections:
            await trio.sleep(0.1)
    assert s is not None and s.reaped == 1 and s.drops == 0


async def test_a_cancelled_command_leaves_no_remote_process(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool()
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        async with trio.open_nursery() as n:
            n.start_soon(lease.run, ["sleep", "6171"])
            with trio.fail_after(20):
                while not await remote_pids(testbed, "fireuser", "sleep 6171"):
                    await trio.sleep(0.1)
            n.cancel_scope.cancel()  # as when the client goes away
        # The slot is usable again right away.
        assert (await lease.run(["echo", "next"])).stdout == "next\n"
    assert await wait_until_gone(testbed, "fireuser", "sleep 6171") == []


async def test_a_process_ignoring_term_is_killed(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool()
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        with trio.move_on_after(1):
            await lease.run(["sh", "-c", "trap '' TERM; sleep 6172; sleep 1"])
    assert await wait_until_gone(testbed, "fireuser", "sleep 6172") == []


async def test_a_command_past_its_deadline_is_killed(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool()
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        with pytest.raises(CommandTimeout, match="1 s deadline"):
            await lease.run(["sleep", "6173"], timeout=1)
    assert await wait_until_gone(testbed, "fireuser", "sleep 6173") == []
    s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
    assert s is not None and s.failures == 1


async def test_output_cap_kills_the_command(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool()
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        with pytest.raises(OutputTooLarge, match="stdout passed 1000 bytes"):
            await lease.run(["sh", "-c", "yes 6174 | head -c 100000; sleep 6174"], output_limit=1000)
        big = await lease.run(["head", "-c", "3000000", "/dev/zero"], output_limit=3000000)
        assert big.ok and len(big.stdout_bytes) == 3000000
    assert await wait_until_gone(testbed, "fireuser", "sleep 6174") == []


async def test_stdin_stderr_and_exit_status(testbed_pool: StartPool) -> None:
    pool = await testbed_pool()
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        result = await lease.run(["sh", "-c", "cat; echo oops >&2; exit 7"], stdin="hello\n")
        weird = await lease.run(["printf", "%s|", "a b", "'", '"$HOME"', "; id"])
    assert (result.exit_status, result.stdout, result.stderr) == (7, "hello\n", "oops\n")
    assert weird.stdout == 'a b|\'|"$HOME"|; id|'


async def while_the_loop_is_busy(job: Callable[[], Awaitable[None]], copies: int) -> None:
    """Run `copies` of `job` at once while the whole thread is blocked in turns, as by a busy
    event loop: what sshd sends meanwhile (a reply to an exec request, then the command's exit
    and its channel's close) is read in one go afterwards."""
    done = trio.Event()

    async def hold_the_thread() -> None:
        while not done.is_set():
            await trio.sleep(0.01)
            time.sleep(0.05)  # on purpose: the loop is busy

    with trio.fail_after(120):
        async with trio.open_nursery() as busy:
            busy.start_soon(hold_the_thread)
            async with trio.open_nursery() as n:
                for _ in range(copies):
                    n.start_soon(job)
            done.set()


async def test_a_command_that_exits_before_its_stdin_is_written_gives_its_result(testbed_pool: StartPool) -> None:
    """A command may exit without reading its stdin, and sshd close its channel before we wrote
    it: the command's own exit status and output are the answer, not a lost connection."""
    pool = await testbed_pool()
    stdin = b"x" * (1 << 20)
    results = []

    async def run_some() -> None:
        for _ in range(8):
            async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
                results.append(await lease.run(["sh", "-c", "printf ok; exit 3"], stdin=stdin))

    await while_the_loop_is_busy(run_some, 8)
    assert [(r.exit_status, r.stdout) for r in results] == [(3, "ok")] * 64


async def test_a_connection_lost_before_stdin_is_written_still_fails(testbed: Testbed, aio: None) -> None:
    """The command kills its connection's sshd: the lost connection is reported as such, also
    when the loss is read together with the exec reply, before the stdin is written."""

    async def run_one() -> None:
        async with fireuser_connection(testbed) as conn:
            with pytest.raises(SshConnectionLost):
                await conn.run("kill -9 $PPID; sleep 10", stdin=b"x" * (1 << 20), output_limit=1 << 20)
            assert conn.is_closed()

    await while_the_loop_is_busy(run_one, 8)


async def test_streaming(testbed_pool: StartPool) -> None:
    pool = await testbed_pool()
    payload = bytes(range(256)) * 4096  # 1 MiB
    received = bytearray()
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        async with lease.stream(["sh", "-c", "cat; echo done >&2"]) as proc:

            async def feed() -> None:
                await proc.send_all(payload)
                await proc.send_eof()

            async with trio.open_nursery() as n:
                n.start_soon(feed)
                while chunk := await proc.receive_some():
                    received += chunk
            completed = await proc.wait()
    assert bytes(received) == payload
    assert (completed.exit_status, completed.stderr) == (0, b"done\n")


async def test_a_cancelled_stream_leaves_no_remote_process(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool()
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        with trio.move_on_after(1):
            async with lease.stream(["sleep", "6175"]) as proc:
                await proc.wait()
    assert await wait_until_gone(testbed, "fireuser", "sleep 6175") == []


async def test_wrong_host_key_is_refused(testbed_pool: StartPool) -> None:
    pool = await testbed_pool(known_hosts="wrong_known_hosts")
    with pytest.raises(HostKeyMismatch, match="host key of 127.0.0.1:2222 did not match"):
        async with pool.lease(TESTBED_SYSTEM, "fireuser"):
            pass  # pragma: no cover


async def test_sshd_restart_mid_run(testbed: Testbed, testbed_pool: StartPool) -> None:
    """sshd goes down with our connections; later leases reconnect and succeed."""
    pool: PoolSupervisor = await testbed_pool(lease_timeout=10, connect_timeout=3, login_timeout=3)
    ok = {"before": 0, "after": 0}
    phase = "before"
    restarted = trio.Event()

    async def keep_running() -> None:
        while not restarted.is_set() or ok["after"] < 20:
            try:
                async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
                    if (await lease.run(["true"], timeout=10)).ok:
                        ok[phase] += 1
            except Exception:
                # During the restart leases fail (BackendFailure): that is expected.
                assert not restarted.is_set(), "a lease failed after sshd was back"
                await trio.sleep(0.05)

    with trio.fail_after(90):
        async with trio.open_nursery() as n:
            for _ in range(4):
                n.start_soon(keep_running)
            while ok["before"] < 20:
                await trio.sleep(0.05)
            try:
                await trio.to_thread.run_sync(lambda: testbed.ctl("down", "sshd", timeout=60))
            finally:
                # The testbed is shared: sshd comes back whatever happens here.
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(lambda: testbed.ctl("up", "sshd", timeout=60))
            # Leases already granted during the outage may still fail, and the circuit breaker
            # (opened by the dropped connections) lets a trial through only after retry_after (2 s).
            await trio.sleep(3)
            phase = "after"
            restarted.set()
    s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
    assert s is not None
    assert ok["after"] >= 20
    assert s.drops >= 1 and s.reconnects >= 1


@pytest.mark.parametrize("user", ["fireuser", "firesrv", "fireuser2"])
async def test_ca_certificates_log_in(testbed_pool: StartPool, user: str) -> None:
    pool = await testbed_pool()
    async with pool.lease(TESTBED_SYSTEM, user) as lease:
        assert (await lease.run(["id", "-un"])).stdout == f"{user}\n"


async def test_static_keys_log_in(testbed: Testbed, testbed_pool: StartPool) -> None:
    keys = {"fireuser2": StaticKey(private_key=Secret(testbed.key("fireuser2").read_text(), "file:fireuser2"))}
    pool = await testbed_pool(credentials=StaticKeysCredentials(mode="static_keys", keys=keys))
    async with pool.lease(TESTBED_SYSTEM, "fireuser2") as lease:
        assert (await lease.run(["id", "-un"])).stdout == "fireuser2\n"


async def test_key_service_certificates_log_in(testbed: Testbed, testbed_pool: StartPool) -> None:
    # No real key service exists here: a stub with FirecREST's shape signs with the testbed's CA.
    stub = KeyServiceStub(ca=import_private_key(testbed.user_ca.read_text()))
    async with serve_key_service(stub) as url:
        pool = await testbed_pool(credentials=SshServiceCredentials(mode="ssh_service", url=url))
        async with pool.lease(TESTBED_SYSTEM, "fireuser", token="jwt-of-fireuser") as lease:
            assert (await lease.run(["id", "-un"])).stdout == "fireuser\n"
    assert [r["headers"]["authorization"] for r in stub.requests] == ["Bearer jwt-of-fireuser"]


# A walk from the remote shell up to init: "pid comm" per line. The first sshd on it is the
# per-connection process that serves our connection (sshd forks every channel's command from it).
_ANCESTORS = (
    'p=$$; while [ "$p" -gt 1 ]; do echo "$p $(cat /proc/$p/comm)"; '
    "p=$(awk '/^PPid:/{print $2}' /proc/$p/status); done"
)


def _session_process(ancestors: str, user: str) -> int:
    """The sshd process serving one connection of `user`, checked locally in /proc (sshd runs here)."""
    pid = next(int(line.split()[0]) for line in ancestors.splitlines() if line.split()[1:] == ["sshd"])
    cmdline = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode()
    uid = next(line.split()[1] for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("Uid:"))
    assert cmdline == f"sshd: {user}@notty" and int(uid) == pwd.getpwnam(user).pw_uid, (pid, cmdline, uid)
    return pid


async def test_keepalive_drops_a_connection_whose_server_stopped_answering(testbed_pool: StartPool) -> None:
    """sshd's process for our connection is frozen (SIGSTOP): the TCP connection stays up but nothing
    answers. The keepalives go unanswered, the pool drops the connection, the next lease reconnects."""
    user = "fireuser2"
    pool = await testbed_pool(keepalive_interval=1, keepalive_count_max=2, max_connections_per_user=1)
    with trio.fail_after(20):
        async with pool.lease(TESTBED_SYSTEM, user) as lease:
            found = await lease.run(["sh", "-c", _ANCESTORS])
    assert found.ok, found
    s = pool.statistics().user(TESTBED_SYSTEM, user)
    assert s is not None and (s.connections, s.drops) == (1, 0)
    session = _session_process(found.stdout, user)
    os.kill(session, signal.SIGSTOP)
    try:
        # Detected after about interval * (count_max + 1) = 3 s without an answer.
        with trio.fail_after(15):
            while (s := pool.statistics().user(TESTBED_SYSTEM, user)) and s.connections:
                await trio.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(session, signal.SIGKILL)  # delivered to a stopped process too
            os.kill(session, signal.SIGCONT)
    assert s is not None and (s.drops, s.reaped) == (1, 0)
    with trio.fail_after(20):
        async with pool.lease(TESTBED_SYSTEM, user) as lease:
            assert (await lease.run(["id", "-un"])).stdout == f"{user}\n"
    s = pool.statistics().user(TESTBED_SYSTEM, user)
    assert s is not None and (s.connections, s.connects, s.reconnects, s.drops) == (1, 2, 1, 1)
