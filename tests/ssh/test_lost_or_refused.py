"""A channel refused (nothing ran: retried elsewhere) or a connection lost after the exec request
went out (the command may have run: never retried), for collected commands and streamed ones.

asyncssh is driven by a stand-in connection here: the moment to break (between the session
being made, which sends the exec request, and the reply) cannot be hit on purpose with a real
sshd. Both paths through asyncssh's API are the ones f7tproxy uses (`create_session` with a
session factory; `create_process`, which is `create_session(SSHClientProcess, ...)`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncssh
import pytest

from f7tproxy._aio import _ssh
from f7tproxy._aio._channel import ChannelRefused
from f7tproxy.errors import SshConnectionLost


class Connection:
    """Breaks while a channel opens: before the session exists, or just after it was made."""

    def __init__(self, *, after_exec: bool, refused: bool = False) -> None:
        self.after_exec = after_exec
        self.refused = refused
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed

    async def create_session(self, factory: Callable[[], Any], command: str, **_: object) -> Any:
        await asyncio.sleep(0)
        if self.refused:
            raise asyncssh.ChannelOpenError(asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "open failed")
        if self.after_exec:
            factory()  # asyncssh makes the session and sends the exec request in one step
        self.closed = True
        raise asyncssh.ConnectionLost("Connection lost")

    async def create_process(self, command: str, **kwargs: object) -> Any:  # as asyncssh's
        _, process = await self.create_session(asyncssh.SSHClientProcess, command, **kwargs)
        return process


def _collected(conn: Connection) -> None:
    asyncio.run(_ssh._run(conn, "rm -- /x", None, 1024))  # type: ignore[arg-type]


def _streamed(conn: Connection) -> None:
    asyncio.run(_ssh._open_process(conn, "dd of=/x"))  # type: ignore[arg-type]


@pytest.mark.parametrize("start", [_collected, _streamed], ids=["collected", "streamed"])
def test_lost_after_the_exec_request_is_lost_not_refused(start: Callable[[Connection], None]) -> None:
    with pytest.raises(SshConnectionLost):
        start(Connection(after_exec=True))


@pytest.mark.parametrize("start", [_collected, _streamed], ids=["collected", "streamed"])
def test_lost_or_refused_before_the_session_may_be_retried(start: Callable[[Connection], None]) -> None:
    with pytest.raises(ChannelRefused) as lost:
        start(Connection(after_exec=False))
    assert lost.value.connection_closed
    with pytest.raises(ChannelRefused) as refused:
        start(Connection(after_exec=False, refused=True))
    assert not refused.value.connection_closed
