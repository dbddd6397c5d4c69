"""The admin protocol over an asyncio Unix stream (one request at a time per connection)."""

from __future__ import annotations

import asyncio
import json
import pathlib
from typing import Any

TIMEOUT = 10.0
"""Deadline of one request (check-now runs probes, so allow for their timeouts)."""
LIMIT = 16 * 1024 * 1024
"""Longest answer line accepted."""


class AdminUnavailable(Exception):
    """The socket is missing, refuses connections, or the server went away mid-request."""


class CommandFailed(Exception):
    """The server answered a request with an error."""


class AdminClient:
    """A connection to the admin socket at `path`, opened on first use and reopened after a failure."""

    def __init__(self, path: pathlib.Path, *, timeout: float = TIMEOUT) -> None:
        self.path = path
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def request(self, **request: Any) -> Any:
        """Send one request and return its `result`.

        Raises AdminUnavailable (no server; the connection is closed) or CommandFailed.
        """
        try:
            async with asyncio.timeout(self._timeout):
                if self._writer is None:
                    self._reader, self._writer = await asyncio.open_unix_connection(str(self.path), limit=LIMIT)
                assert self._reader is not None
                self._writer.write(json.dumps(request).encode() + b"\n")
                await self._writer.drain()
                line = await self._reader.readline()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise AdminUnavailable(_describe(exc, self.path)) from None
        if not line:
            await self.close()
            raise AdminUnavailable("the server closed the connection")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise CommandFailed(str(reply.get("error")))
        return reply.get("result")

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


def _describe(exc: BaseException, path: pathlib.Path) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"no admin socket at {path}"
    if isinstance(exc, ConnectionRefusedError):
        return f"nobody is listening on {path}"
    if isinstance(exc, PermissionError):
        return f"no permission to use {path} (run as the server's user)"
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    return f"{exc.__class__.__name__}: {exc}"
