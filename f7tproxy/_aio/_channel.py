"""What every remote command on a channel shares: how it ended, and how its channel is opened."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncssh
import attrs

T = TypeVar("T")

CLOSE_TIMEOUT = 2.0
"""Seconds we wait for the server to confirm a channel or connection close."""


@attrs.frozen
class Completed:
    """How a remote command ended, with its raw output."""

    exit_status: int | None
    """The exit status; None if the process was killed by a signal."""
    exit_signal: str | None
    """The signal that ended the process, if any (``TERM``, ``KILL``, ...)."""
    stdout: bytes
    stderr: bytes


class ChannelRefused(Exception):
    """The server did not open a channel; the command never started, so it may be retried.

    `connection_closed` says whether the connection itself is gone (retry on
    another one) or only refused this channel (sshd's MaxSessions, briefly).
    """

    def __init__(self, reason: str, *, connection_closed: bool) -> None:
        super().__init__(reason)
        self.connection_closed = connection_closed


class OutputLimitExceeded(Exception):
    """stdout or stderr of a remote command passed the cap; the process was stopped."""

    def __init__(self, stream: str, limit: int) -> None:
        super().__init__(f"{stream} passed {limit} bytes")
        self.stream = stream
        self.limit = limit


async def opened(conn: asyncssh.SSHClientConnection, opening: Awaitable[T], stop: Callable[[T], Awaitable[None]]) -> T:
    """Await `opening` (a channel being opened and a command started on it).

    The open runs in its own task: if we are cancelled half-way, asyncssh would
    leave the channel open and maybe the command started, with no handle to
    stop it. So we let the open finish (briefly) and `stop` what it started.

    Raises ChannelRefused if the channel could not be opened.
    """
    task = asyncio.ensure_future(opening)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await stop(await asyncio.wait_for(task, CLOSE_TIMEOUT))
        if not task.done():
            task.cancel()
        raise
    except asyncssh.ChannelOpenError as exc:
        raise ChannelRefused(exc.reason, connection_closed=conn.is_closed()) from None
    except (asyncssh.Error, OSError) as exc:
        # The connection broke while the channel was being opened.
        raise ChannelRefused(str(exc), connection_closed=True) from None
