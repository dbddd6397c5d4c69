"""The persistent runners of one pooled connection: at most one per channel slot.

A runner (`f7tproxy._aio.RemoteRunner`) is started the first time a slot runs a
command and kept while the connection lives; the next command on any free slot of
that connection reuses an idle one, so it costs the login node a fork, not an sshd
session. A runner that died (or was given up after a stop it did not answer) is
dropped and the next command starts a fresh one: a restart. A connection whose
login node cannot start a runner at all runs a channel per command instead (once
logged, and counted).

Channels on a connection stay within its slots: streamed commands (uploads,
downloads, attach) need a channel of their own, so an idle runner is closed to
make room for one when needed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from .._aio import RemoteRunner, RunnerUnavailable
from ._connector import PoolConnection

log = logging.getLogger(__name__)

INTERPRETER = "python3"
"""The runner's interpreter: a select loop, exact byte counts and process groups are one
process in Python, where a shell would need helper processes or temporary files."""


class RunnerSet:
    """The runners of one connection, for the leases on its slots."""

    def __init__(
        self,
        conn: PoolConnection,
        *,
        slots: int,
        start_timeout: float,
        on_start: Callable[[bool], None],
        on_fallback: Callable[[str], None],
    ) -> None:
        """`on_start(restart)` is called for every runner started, `on_fallback(reason)` once
        if the connection cannot start one; neither may block or raise."""
        self._conn = conn
        self._slots = slots
        self._start_timeout = start_timeout
        self._on_start = on_start
        self._on_fallback = on_fallback
        self._idle: list[RemoteRunner] = []
        self._count = 0
        """Runners alive or starting (idle or running a command)."""
        self._streams = 0
        self._lost = 0
        """Runners that died and are not replaced yet (the next starts are restarts)."""
        self.unavailable: str | None = None
        """Why this connection cannot start a runner (it runs a channel per command)."""

    async def take(self) -> RemoteRunner | None:
        """An idle runner, or a new one; None: run this command on a channel of its own.

        Raises ChannelRefused if the runner's channel could not be opened (nothing ran).
        """
        while self._idle:
            runner = self._idle.pop()
            if runner.is_alive():
                return runner
            self._forget()
        if self.unavailable is not None or self._count + self._streams >= self._slots:
            return None
        self._count += 1
        try:
            runner = await self._conn.start_runner(interpreter=INTERPRETER, start_timeout=self._start_timeout)
        except RunnerUnavailable as exc:
            self._count -= 1
            if exc.permanent and self.unavailable is None:
                self.unavailable = str(exc)
                log.warning("ssh: %s: no runner, a channel per command instead: %s", self._conn.label, exc)
                self._on_fallback(str(exc))
            else:
                log.info("ssh: %s: a runner did not start (%s); this command gets its own channel",
                         self._conn.label, exc)  # fmt: skip
            return None
        except BaseException:
            self._count -= 1
            raise
        restart = self._lost > 0
        if restart:
            self._lost -= 1
        self._on_start(restart)
        return runner

    def give_back(self, runner: RemoteRunner) -> None:
        """The command ended: keep `runner` for the next one, or drop it if it is gone."""
        if runner.is_alive():
            self._idle.append(runner)
        else:
            self._forget()

    def _forget(self) -> None:
        self._count -= 1
        self._lost += 1

    @contextlib.asynccontextmanager
    async def streaming(self) -> AsyncIterator[None]:
        """Around a streamed command's own channel: closes an idle runner if the slots need it."""
        self._streams += 1
        try:
            while self._count + self._streams > self._slots and self._idle:
                self._count -= 1
                await self._idle.pop().aclose()
            yield
        finally:
            self._streams -= 1


__all__ = ["RunnerSet"]
