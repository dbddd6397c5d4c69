"""One socket write per loop turn for all of a connection's SSH packets.

asyncssh writes every packet to its transport on its own, and sends an SSH_MSG_IGNORE
before every connection-layer packet: a command on a runner is two writes (two send()
calls, two wake-ups of the login node's sshd), a command on a channel of its own about
eight. `coalesce_writes` puts a transport in front of the connection's that gathers what
is written in one turn of the event loop and hands it to the real transport in one write
at the end of the turn. The bytes on the wire are the same, in the same order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncssh

log = logging.getLogger(__name__)


class _CoalescedWrites:
    """A transport that passes everything to `transport`, gathering writes until the loop turns."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            try:
                self._transport.write(data)
            except ConnectionError:  # as asyncssh's own write: the connection's loss is reported apart
                pass

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._flush()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def coalesce_writes(conn: asyncssh.SSHClientConnection) -> None:
    """Gather `conn`'s packet writes into one write per loop turn (asyncio side; see the module)."""
    transport = getattr(conn, "_transport", None)
    if not isinstance(transport, asyncio.Transport):
        log.warning("ssh: asyncssh's connection has no transport where expected: writes are not coalesced")
        return
    conn._transport = _CoalescedWrites(transport, asyncio.get_running_loop())  # type: ignore[assignment]
