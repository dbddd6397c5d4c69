"""The persistent runners against the testbed's real sshd: framing, isolation, stops and faults."""

from __future__ import annotations

import shlex
import uuid
from typing import TYPE_CHECKING

import pytest
import trio

from f7tproxy.config import ClusterConfig
from f7tproxy.errors import CommandTimeout, OutputTooLarge, SshConnectionLost
from f7tproxy.observability import Metrics
from f7tproxy.ssh import Lease, PoolSupervisor, _runners, remote_command

from .conftest import TESTBED_SYSTEM, StartPool, fireuser_connection
from .conftest import testbed_cluster as cluster_of
from .test_pool_testbed import remote_pids, wait_until_gone

if TYPE_CHECKING:
    from ..conftest import Testbed

pytestmark = pytest.mark.testbed

async def runners_of(testbed: Testbed, user: str = "fireuser") -> list[str]:
    """The user's runner processes (`python3 -I -c ...` with the boot line)."""
    return await remote_pids(testbed, user, "^python3 -I -c import os;b=bytearray")


async def test_hostile_bytes_come_back_intact(testbed_pool: StartPool) -> None:
    pool = await testbed_pool(runner="auto", sessions_per_connection=1, max_connections_per_user=1)
    # NULs, every byte value, frame headers, the runner's marker, and a fake end frame.
    fake_end = b"X" + (5).to_bytes(8, "big") + b"0 - -"
    hostile = (
        bytes(range(256)) * 3 + b"\0\0\0" + b"\nF7TRUNNER 0000\n" + fake_end
        + b"O" + (2**40).to_bytes(8, "big") + b"\xff" * 70000 + b"tail"
    )  # fmt: skip
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        # stdin framed in, stdout and stderr framed out, each exactly.
        out = await lease.run(["sh", "-c", "cat; cat >&2 </dev/null; printf 'E\\0\\0'; exit 3"], stdin=hostile)
        assert out.stdout_bytes == hostile + b"E\0\0"
        assert (out.exit_status, out.stderr_bytes) == (3, b"")
        both = await lease.run(["sh", "-c", "tee /dev/stderr"], stdin=hostile)
        assert both.stdout_bytes == hostile and both.stderr_bytes == hostile and both.ok
        # The same runner answers the next command normally.
        assert (await lease.run(["echo", "after"])).stdout == "after\n"
    s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
    assert s is not None and s.connections == 1


async def test_commands_cannot_change_what_the_next_one_sees(testbed_pool: StartPool) -> None:
    pool = await testbed_pool(runner="auto", sessions_per_connection=1, max_connections_per_user=1)
    probe = ["sh", "-c", 'pwd; umask; echo "${F7T_LEAK-unset}"; ls /proc/self/fd | sort -n | tr "\\n" " "']
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        before = await lease.run(probe)
        # Every kind of state a shell command could try to leave behind, on the same runner.
        changed = await lease.run([
            "bash", "-c",
            "cd /tmp && export F7T_LEAK=yes && umask 077 && exec 7>/tmp/.f7t-leak-$$ && exec 8</dev/null"
            " && echo ok; rm -f /tmp/.f7t-leak-$$",
        ])  # fmt: skip
        assert changed.stdout == "ok\n"
        after = await lease.run(probe)
    assert before.ok and after.stdout == before.stdout
    home, umask, leak, fds = before.stdout.splitlines()
    assert home == "/home/fireuser" and leak == "unset"
    # Only the command's own stdin, stdout, stderr (and ls's directory handle).
    assert fds.split() == ["0", "1", "2", "3"]


async def test_commands_see_the_environment_of_an_exec_channel(testbed: Testbed, testbed_pool: StartPool) -> None:
    on = await testbed_pool(runner="auto", sessions_per_connection=1, max_connections_per_user=1)
    off = PoolSupervisor([with_runner(testbed, "off", sessions_per_connection=1, max_connections_per_user=1)])
    async with trio.open_nursery() as n:
        await n.start(off.run)
        envs = []
        for pool in (on, off):
            async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
                result = await lease.run(["sh", "-c", "env | sort; umask; pwd; ulimit -n"])
            # `_` is the last program the shell ran; SSH_CLIENT and SSH_CONNECTION name the client's port.
            envs.append({line for line in result.stdout.splitlines() if not line.startswith(("_=", "SSH_C"))})
        n.cancel_scope.cancel()
    assert envs[0] == envs[1]


async def test_a_runner_listens_on_nothing_and_keeps_no_secret(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool(runner="auto", sessions_per_connection=1, max_connections_per_user=1)
    secret = f"f7t-secret-{uuid.uuid4().hex}"
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        # A command given a secret on stdin and in its command line, run by the runner.
        assert (await lease.run(["sh", "-c", "cat >/dev/null", secret], stdin=secret)).ok
        (pid,) = await runners_of(testbed)
        # From a second login as the runner's user: its open files, command line and environment.
        look = f"ls -l /proc/{pid}/fd; tr '\\0' ' ' </proc/{pid}/cmdline; echo; tr '\\0' '\\n' </proc/{pid}/environ"
        seen = await trio.to_thread.run_sync(lambda: testbed.ssh("fireuser", look))
    assert seen.returncode == 0, seen.stderr
    fds = dict(line.split()[-3::2] for line in seen.stdout.splitlines() if " -> " in line)
    # Its channel's stdin, stdout and stderr, and its own wake-up pipe: no socket, so nothing to listen on.
    assert set(fds) == {"0", "1", "2", "3", "4"}, fds
    assert not any(target.startswith("socket:") for n, target in fds.items() if n not in {"0", "1", "2"}), fds
    assert all(target.startswith("pipe:") for n, target in fds.items() if n in {"3", "4"}), fds
    # What it ran is not kept where another process of the user could read it.
    assert secret not in seen.stdout
    assert "python3 -I -c import os;b=bytearray()" in seen.stdout


def with_runner(testbed: Testbed, mode: str, **pool: object) -> ClusterConfig:
    """The testbed cluster with `ssh.runner: mode`."""
    return cluster_of(testbed, runner=mode, **pool)


async def test_a_cancelled_command_kills_its_process_group(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool(runner="auto", sessions_per_connection=1, max_connections_per_user=1)
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        async with trio.open_nursery() as n:
            # A child in the background, and one that ignores TERM: the whole group goes.
            n.start_soon(lease.run, ["sh", "-c", "sleep 6181 & (trap '' TERM; sleep 6182) & wait"])
            with trio.fail_after(20):
                while len(await remote_pids(testbed, "fireuser", "sleep 618[12]")) < 2:
                    await trio.sleep(0.1)
            n.cancel_scope.cancel()
        assert await wait_until_gone(testbed, "fireuser", "sleep 618[12]") == []
        assert (await lease.run(["echo", "next"])).stdout == "next\n"
        with pytest.raises(CommandTimeout):
            await lease.run(["sleep", "6183"], timeout=0.5)
        assert (await lease.run(["echo", "again"])).stdout == "again\n"
        with pytest.raises(OutputTooLarge):
            await lease.run(["sh", "-c", "yes | head -c 100000; sleep 6184"], output_limit=1000)
        assert (await lease.run(["echo", "and again"])).stdout == "and again\n"
    assert await wait_until_gone(testbed, "fireuser", "sleep 618") == []
    s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
    # One connection, one runner all along: no stop needed a fresh one.
    assert s is not None and s.connects == 1 and s.drops == 0


async def test_a_killed_runner_fails_its_command_and_is_replaced(testbed: Testbed, aio_nursery: trio.Nursery) -> None:
    metrics = Metrics()
    pool = PoolSupervisor(
        [cluster_of(testbed, runner="auto", sessions_per_connection=2, max_connections_per_user=1)], metrics=metrics
    )
    await aio_nursery.start(pool.run)
    for signal in ("TERM", "KILL"):
        async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease, pool.lease(TESTBED_SYSTEM, "fireuser") as other:
            async with trio.open_nursery() as n:  # both slots of the connection have a runner
                n.start_soon(lease.run, ["sleep", "0.3"])
                n.start_soon(other.run, ["sleep", "0.3"])
            mine = set(await runners_of(testbed))
            assert len(mine) == 2
            failed: list[BaseException] = []

            async def victim() -> None:
                with pytest.raises(SshConnectionLost, match="runner was lost") as info:
                    await lease.run(["sh", "-c", "echo $$ >/tmp/.f7t-victim; sleep 6191"], timeout=30)
                failed.append(info.value)

            async with trio.open_nursery() as n:
                n.start_soon(victim)
                with trio.fail_after(20):
                    while not await remote_pids(testbed, "fireuser", "sleep 6191"):
                        await trio.sleep(0.1)
                # From a second login: kill the runner of the sleep (sh <- runner).
                kill = (
                    "runner=$(ps -o ppid= -p $(cat /tmp/.f7t-victim));"
                    f" rm /tmp/.f7t-victim; kill -{signal} $runner"
                )
                done = await trio.to_thread.run_sync(lambda: testbed.ssh("fireuser", kill))
                assert done.returncode == 0, done.stderr
            assert failed
            if signal == "KILL":
                # Nothing bounds a killed runner's command any more: a silent one runs on.
                left = await remote_pids(testbed, "fireuser", "sleep 6191")
                assert left
                done = await trio.to_thread.run_sync(lambda: testbed.ssh("fireuser", "kill " + " ".join(left)))
                assert done.returncode == 0, done.stderr
            # The command is gone (at once with TERM); the other runner and the connection stay.
            with trio.fail_after(20):
                while await remote_pids(testbed, "fireuser", "sleep 6191"):
                    await trio.sleep(0.3)
            outputs: list[str] = []

            async def echo(on: Lease, word: str) -> None:
                outputs.append((await on.run(["sh", "-c", f"sleep 0.3; echo {word}"])).stdout)

            async with trio.open_nursery() as n:  # both slots busy again: one needs a fresh runner
                n.start_soon(echo, other, "other")
                n.start_soon(echo, lease, "fresh")
            assert sorted(outputs) == ["fresh\n", "other\n"]
            now = set(await runners_of(testbed))
            assert len(now) == 2 and len(now - mine) == 1
        s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
        assert s is not None and s.connects == 1 and s.drops == 0
    assert (s.runner_starts, s.runner_restarts) == (4, 2)
    text = metrics.render().decode()
    assert 'f7tproxy_ssh_runner_starts_total{kind="restart",system="testbed"} 2.0' in text
    assert 'f7tproxy_ssh_runner_starts_total{kind="start",system="testbed"} 2.0' in text


async def test_no_process_is_left_behind(testbed: Testbed, testbed_pool: StartPool) -> None:
    pool = await testbed_pool(runner="auto", sessions_per_connection=3, max_connections_per_user=2, idle_timeout=0.5)
    async with trio.open_nursery() as n:
        for i in range(6):
            n.start_soon(_one, pool, i)
    assert len(await runners_of(testbed)) >= 2
    # Idle connections close after idle_timeout, and their runners exit with them.
    with trio.fail_after(20):
        while await runners_of(testbed):
            await trio.sleep(0.3)


async def _one(pool: PoolSupervisor, i: int) -> None:
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        for _ in range(5):
            assert (await lease.run(["echo", str(i)])).stdout == f"{i}\n"


async def test_a_login_node_without_python3_falls_back(testbed: Testbed, aio_nursery: trio.Nursery) -> None:
    metrics = Metrics()
    pool = PoolSupervisor([cluster_of(testbed, runner="auto", sessions_per_connection=2)], metrics=metrics)
    await aio_nursery.start(pool.run)
    old = _runners.INTERPRETER
    _runners.INTERPRETER = "python3-not-installed-here"
    try:
        async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
            for _ in range(3):
                assert (await lease.run(["echo", "plain"])).stdout == "plain\n"
    finally:
        _runners.INTERPRETER = old
    text = metrics.render().decode()
    assert 'f7tproxy_ssh_runner_fallbacks_total{system="testbed"} 1.0' in text
    assert "f7tproxy_ssh_runner_starts_total{" not in text


async def test_the_runner_s_own_deadline_ends_a_command_as_timeout_does(testbed: Testbed, aio: None) -> None:
    """The runner's deadline (f7tproxy's stop never came): TERM to the group, KILL after the grace,
    ended as coreutils' `timeout --kill-after` ends it on a channel of its own."""
    cases = [
        # TERM ends the command and its background child: status 124.
        (["sh", "-c", "sleep 6201 & sleep 6202"], (124, None)),
        # A group that ignores TERM needs the KILL.
        (["sh", "-c", "trap '' TERM; sleep 6203"], (None, "KILL")),
        # Ended before the deadline: its own status.
        (["sh", "-c", "exit 7"], (7, None)),
    ]
    async with fireuser_connection(testbed) as conn:
        runner = await conn.start_runner(interpreter="python3", start_timeout=30)
        try:
            for argv, expected in cases:
                started = trio.current_time()
                result = await runner.run(argv, deadline=1, kill_after=1, stdin=None, output_limit=1000)
                assert (result.exit_status, result.exit_signal) == expected, argv
                assert trio.current_time() - started < 15
                line = f"exec timeout --kill-after=1s 1s {shlex.join(argv)}"
                under_timeout = await conn.run(line, stdin=None, output_limit=1000)
                assert (under_timeout.exit_status, under_timeout.exit_signal) == expected, argv
            assert await wait_until_gone(testbed, "fireuser", "sleep 620") == []
            assert (await runner.run(["echo", "next"], deadline=1, kill_after=1, stdin=None, output_limit=99)).stdout == b"next\n"
        finally:
            await runner.aclose()


async def test_a_program_that_cannot_start_ends_as_under_timeout(testbed: Testbed, aio: None) -> None:
    async with fireuser_connection(testbed) as conn:
        runner = await conn.start_runner(interpreter="python3", start_timeout=30)
        try:
            for argv, status in ((["no-such-program-f7t"], 127), (["/etc/passwd"], 126)):
                result = await runner.run(argv, deadline=5, kill_after=2, stdin=b"in", output_limit=1000)
                assert (result.exit_status, result.stdout) == (status, b""), argv
                assert result.stderr.startswith(argv[0].encode() + b": "), result.stderr
                under_timeout = await conn.run(remote_command(argv, timeout=3), stdin=b"in", output_limit=1000)
                assert under_timeout.exit_status == status, argv
            # Words go as they are: no shell sees them.
            hostile = ["printf", "%s|", "$(id)", "a'b", 'c"d', "-n", "x\ny", "*"]
            result = await runner.run(hostile, deadline=5, kill_after=2, stdin=None, output_limit=1000)
            assert result.stdout == "$(id)|a'b|c\"d|-n|x\ny|*|".encode()
            with pytest.raises(ValueError, match="NUL"):
                await runner.run(["echo", "a\0b"], deadline=5, kill_after=2, stdin=None, output_limit=1000)
            assert runner.is_alive()
        finally:
            await runner.aclose()


async def test_a_word_with_nul_fails_as_before_and_keeps_the_runner(testbed_pool: StartPool) -> None:
    pool = await testbed_pool(runner="auto", sessions_per_connection=1, max_connections_per_user=1)
    async with pool.lease(TESTBED_SYSTEM, "fireuser") as lease:
        assert (await lease.run(["echo", "first"])).stdout == "first\n"
        with pytest.raises(SshConnectionLost, match="NUL"):
            await lease.run(["echo", "a\0b"])
        assert (await lease.run(["echo", "after"])).stdout == "after\n"
    s = pool.statistics().user(TESTBED_SYSTEM, "fireuser")
    assert s is not None and (s.runner_starts, s.runner_restarts) == (1, 0)
