"""Fewer packets and socket writes per command: coalesced writes, and a runner's one write per command."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import trio

from .conftest import fireuser_connection

if TYPE_CHECKING:
    from ..conftest import Testbed

pytestmark = pytest.mark.testbed


async def test_a_command_costs_fewer_socket_writes_than_packets(testbed: Testbed, aio: None) -> None:
    async with fireuser_connection(testbed) as conn:
        ssh: Any = conn._conn
        # The stdlib transport under whatever f7tproxy put in front of it: count its writes.
        real = getattr(ssh._transport, "_transport", ssh._transport)
        writes = 0
        write = real.write

        def counted(data: bytes) -> None:
            nonlocal writes
            writes += 1
            write(data)

        real.write = counted
        packets = ssh._send_seq
        for _ in range(3):
            # (cat: a command that ends before its stdin is sent would make that send fail)
            result = await conn.run("cat", stdin=b"in", output_limit=1000)
            assert (result.exit_status, result.stdout) == (0, b"in")
        packets = ssh._send_seq - packets
        # asyncssh sends an SSH_MSG_IGNORE before each of the channel's packets: open, exec,
        # stdin, EOF and close per command, twice over. One write per packet before; now each
        # IGNORE goes with its packet, and packets of one loop turn together (how many turns a
        # command takes depends on when the server's answers arrive).
        assert packets >= 3 * 8
        assert writes <= packets * 2 // 3, (writes, packets)


async def test_a_runner_sends_a_small_command_s_output_and_end_in_one_packet(testbed: Testbed, aio: None) -> None:
    async with fireuser_connection(testbed) as conn:
        runner = await conn.start_runner(interpreter="python3", start_timeout=30)
        session: Any = runner._session
        received = 0
        data_received = session.data_received

        def counted(data: bytes, datatype: Any) -> None:
            nonlocal received
            received += 1
            data_received(data, datatype)

        session.data_received = counted
        for n in range(5):
            # stdout and stderr, written apart: still one write of the runner's, so one packet of sshd's.
            result = await runner.run(
                ["sh", "-c", f"echo out{n}; echo err{n} >&2"], deadline=None, kill_after=2, stdin=None, output_limit=1000
            )
            assert (result.exit_status, result.stdout, result.stderr) == (0, f"out{n}\n".encode(), f"err{n}\n".encode())
        assert received == 5
        await runner.aclose()


@contextlib.contextmanager
def counted_calls(name: str) -> Iterator[list[int]]:
    """Count the calls of the running trio-asyncio loop's method `name` (found from trio as asyncssh finds it)."""
    loop: Any = asyncio.get_running_loop()
    calls = [0]
    method = getattr(loop, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return method(*args, **kwargs)

    setattr(loop, name, counted)
    try:
        yield calls
    finally:
        delattr(loop, name)


async def test_a_runner_s_command_runs_without_an_asyncio_task(testbed: Testbed, aio: None) -> None:
    async with fireuser_connection(testbed) as conn:
        runner = await conn.start_runner(interpreter="python3", start_timeout=30)
        with counted_calls("call_soon") as scheduled:
            for n in range(5):
                result = await runner.run(["echo", str(n)], deadline=None, kill_after=2, stdin=None, output_limit=1000)
                assert (result.exit_status, result.stdout) == (0, f"{n}\n".encode())
        # The command's packet goes out on the loop's next turn (one callback: the coalesced
        # write); no task, future or wake-up crosses between trio and asyncio.
        assert scheduled[0] <= 5, scheduled
        await runner.aclose()


async def test_packets_received_set_no_timer_and_keepalives_still_go_out_when_silent(testbed: Testbed, aio: None) -> None:
    async with fireuser_connection(testbed, keepalive_interval=0.3) as conn:
        runner = await conn.start_runner(interpreter="python3", start_timeout=30)
        with counted_calls("call_later") as timers:
            for n in range(20):
                result = await runner.run(["echo", str(n)], deadline=None, kill_after=2, stdin=None, output_limit=1000)
                assert result.stdout == f"{n}\n".encode()
        # asyncssh set a new keepalive timer for every packet received; now one per interval at most.
        assert timers[0] <= 2, timers
        await runner.aclose()
        ssh: Any = conn._conn
        sent = ssh._send_seq
        await trio.sleep(1.5)
        # Silent for 1.5 s at a 0.3 s interval: keepalive requests went out (and were answered).
        assert ssh._send_seq - sent >= 4
        assert not conn.is_closed()
