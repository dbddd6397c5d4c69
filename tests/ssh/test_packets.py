"""Fewer packets and socket writes per command: coalesced writes, and a runner's one write per command."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

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


async def test_a_runner_s_command_runs_without_an_asyncio_task(testbed: Testbed, aio: None) -> None:
    async with fireuser_connection(testbed) as conn:
        runner = await conn.start_runner(interpreter="python3", start_timeout=30)
        loop: Any = asyncio.get_running_loop()  # trio-asyncio's, found from trio as asyncssh finds it
        scheduled = 0
        call_soon = loop.call_soon

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal scheduled
            scheduled += 1
            return call_soon(*args, **kwargs)

        loop.call_soon = counted
        try:
            for n in range(5):
                result = await runner.run(["echo", str(n)], deadline=None, kill_after=2, stdin=None, output_limit=1000)
                assert (result.exit_status, result.stdout) == (0, f"{n}\n".encode())
        finally:
            del loop.call_soon
        # The command's packet goes out on the loop's next turn (one callback: the coalesced
        # write); no task, future or wake-up crosses between trio and asyncio.
        assert scheduled <= 5, scheduled
        await runner.aclose()
