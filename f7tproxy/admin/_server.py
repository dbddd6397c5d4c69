"""AdminServer: the Unix socket the dashboard reads (mode 0600, owner: the server's user).

    AdminServer.run                   the listener, and one task per client in its own nursery
    └── client                        read a line, answer it (each write bounded), repeat

A client that does not read its answers within `write_timeout` is dropped,
so a slow client holds up nobody but itself. Errors in one client's task
end that connection only.
"""

from __future__ import annotations

import errno
import logging
import os
import pathlib
import socket as stdlib_socket
import stat

import trio

from ._protocol import answer, encode
from ._source import AdminSource

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
"""Longest request line; a longer one ends the connection (after an error line)."""


class AdminServer:
    """Serves admin requests on a Unix socket at `path`."""

    def __init__(
        self,
        source: AdminSource,
        path: pathlib.Path,
        *,
        write_timeout: float = 5.0,
        max_clients: int = 16,
    ) -> None:
        self._source = source
        self.path = path
        self._write_timeout = write_timeout
        self._max_clients = max_clients
        self._clients = 0

    async def run(self, *, task_status: trio.TaskStatus[pathlib.Path | None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled; remove the socket file on the way out.

        If the socket cannot be made (a live server already owns the path, no
        permission), logs an error and reports None: the API is served without
        the admin socket rather than not at all.
        """
        try:
            sock = await self._bind()
        except OSError as exc:
            log.error("admin socket %s not available: %s", self.path, exc)
            task_status.started(None)
            return
        ident = os.stat(self.path)
        listener = trio.SocketListener(sock)
        try:
            async with trio.open_nursery() as nursery:
                log.info("admin socket on %s", self.path)
                task_status.started(self.path)
                await trio.serve_listeners(self._client, [listener], handler_nursery=nursery)
        finally:
            self._unlink_if_ours(ident)

    async def _bind(self) -> trio.socket.SocketType:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        await self._remove_stale()
        sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
        try:
            await sock.bind(str(self.path))
            # Nobody can connect before listen(): set the mode now, without touching
            # the process-wide umask.
            os.chmod(self.path, 0o600)
            sock.listen(self._max_clients)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _remove_stale(self) -> None:
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise OSError(errno.EEXIST, f"{self.path} exists and is not a socket")
        probe = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
        try:
            with trio.move_on_after(1):
                await probe.connect(str(self.path))
                raise OSError(errno.EADDRINUSE, f"another server is listening on {self.path}")
        except ConnectionRefusedError:
            pass  # nobody listens: a leftover from a server that died
        finally:
            probe.close()
        os.unlink(self.path)

    def _unlink_if_ours(self, ident: os.stat_result) -> None:
        try:
            now = os.stat(self.path)
            if (now.st_dev, now.st_ino) == (ident.st_dev, ident.st_ino):
                os.unlink(self.path)
        except OSError:
            pass

    async def _client(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self._clients >= self._max_clients:
                await self._send(stream, encode({"ok": False, "error": "too many admin clients"}))
                return
            self._clients += 1
            try:
                await self._serve(stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            except Exception:  # one client's trouble must never end the server
                log.exception("admin client failed")
            finally:
                self._clients -= 1

    async def _serve(self, stream: trio.SocketStream) -> None:
        buffer = b""
        while True:
            data = await stream.receive_some(MAX_LINE)
            if not data:
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not line.strip():
                    continue
                if not await self._send(stream, encode(await answer(self._source, line))):
                    return
            if len(buffer) > MAX_LINE:
                error = {"ok": False, "error": f"request line longer than {MAX_LINE} bytes"}
                if await self._send(stream, encode(error)):
                    await self._linger(stream)
                return

    @staticmethod
    async def _linger(stream: trio.SocketStream) -> None:
        """Half-close, then drop what the client still sends (briefly), so that closing with
        unread input does not reset the connection before the client has read our error line."""
        await stream.send_eof()
        with trio.move_on_after(1):
            while await stream.receive_some(MAX_LINE):
                pass

    async def _send(self, stream: trio.SocketStream, data: bytes) -> bool:
        """Write `data` within the write deadline; False if the client is gone or too slow."""
        with trio.move_on_after(self._write_timeout):
            await stream.send_all(data)
            return True
        log.warning("admin client too slow to read its answers: dropped")
        return False
