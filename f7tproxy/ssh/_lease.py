"""A lease: one channel slot on one of a user's pooled connections, and the commands run on it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Literal, Protocol, TypeVar

import attrs
import trio

from ..observability import audit
from ..errors import ApiError, CommandTimeout, OutputTooLarge, SshConnectFailed, SshConnectionLost
from .._aio import ChannelRefused, Completed, OutputLimitExceeded, Process, RunnerLost
from ._command import KILL_AFTER, program_name, remote_command, remote_deadline
from ._connector import PoolConnection
from ._runners import RunnerSet

T = TypeVar("T")

_OPEN_ATTEMPTS = 6
"""Channel opens tried per command: sshd frees a session slot a little after we see it closed."""
_OPEN_BACKOFF = 0.05


@attrs.frozen
class CommandResult:
    """How a remote command ended. `stdout` and `stderr` are decoded as UTF-8 (bad bytes replaced)."""

    argv: tuple[str, ...]
    exit_status: int | None
    """The exit status; None if the process was ended by a signal."""
    exit_signal: str | None
    """The signal that ended the process (``TERM``, ``KILL``, ...), if any."""
    stdout_bytes: bytes = attrs.field(repr=False)
    stderr_bytes: bytes = attrs.field(repr=False)

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", errors="replace")

    @property
    def ok(self) -> bool:
        """True if the command exited with status 0."""
        return self.exit_status == 0


def _audit_error(exc: BaseException) -> str:
    """A fixed word for the audit log: why a command did not end normally."""
    if isinstance(exc, trio.Cancelled):
        return "cancelled"
    words: dict[type[BaseException], str] = {
        CommandTimeout: "timeout",
        OutputTooLarge: "output_limit",
        SshConnectionLost: "connection_lost",
        SshConnectFailed: "channel_open_failed",
    }
    return words.get(type(exc), "error")


class _Command:
    """One remote command, however it runs: counted, bounded by its deadline, audited.

    A context manager around the whole command (one object, not a stack of generator
    context managers: it is entered for every command). Its two forms: `line` for a channel
    of its own (the shell command line, under the remote `timeout`), `argv` and `deadline`
    for a runner (which starts the words as they are and applies the same deadline itself),
    both derived from `argv` and `timeout` when asked for. On leaving it raises CommandTimeout
    if the block outlived the deadline, counts API errors as the user's failures, and writes
    the command's audit line, however the block ended.
    """

    __slots__ = ("argv", "timeout", "limit", "exit_status", "_slot", "_started", "_scope")

    def __init__(self, slot: Slot, argv: tuple[str, ...], timeout: float | None, limit: int | None) -> None:
        self.argv = argv
        self.timeout = slot.command_timeout if timeout is None else timeout
        self.limit = slot.output_limit if limit is None else limit
        self.exit_status: int | None = None
        """Set by the block once the command has ended (None: it never ended normally)."""
        self._slot = slot

    @property
    def line(self) -> str:
        return remote_command(self.argv, timeout=self.timeout)

    @property
    def deadline(self) -> int | None:
        return remote_deadline(self.timeout)

    def __enter__(self) -> _Command:
        self._slot.command_started()
        self._started = trio.current_time()
        self._scope = trio.CancelScope(deadline=self._started + self.timeout)
        self._scope.__enter__()
        return self

    def __exit__(
        self, etype: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        leaving = exc
        try:
            self._scope.__exit__(etype, exc, tb)
            if self._scope.cancelled_caught:  # the deadline passed: the block's Cancelled was caught
                leaving = CommandTimeout(
                    f"command {program_name(self.argv)!r} ran past its {self.timeout:g} s deadline and was killed"
                )
                raise leaving from None
        except BaseException as raised:
            leaving = raised
            raise
        finally:
            if isinstance(leaving, ApiError):
                self._slot.command_failed()
            audit(
                user=self._slot.user, system=self._slot.system, action=program_name(self.argv),
                command=self.argv, exit_status=self.exit_status,
                duration=trio.current_time() - self._started,
                error=None if leaving is None else _audit_error(leaving),
            )  # fmt: skip
        return False


class _RunnerGone(Exception):
    """A runner died (or stopped answering) during a command; its connection is fine."""


class Runner(Protocol):
    """What the filesystem ops and the scheduler backends need from a lease: run one
    command and collect its output (see `Lease.run`)."""

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | str | None = None,
        timeout: float | None = None,
        output_limit: int | None = None,
    ) -> CommandResult: ...


class Slot(Protocol):
    """What a lease needs from its pool: the slot's connection, and where to report what
    happens on it. The pool keeps its connections, counters and breaker to itself."""

    @property
    def system(self) -> str: ...

    @property
    def user(self) -> str: ...

    @property
    def command_timeout(self) -> float:
        """The default deadline of a command (the pool's command_timeout)."""
        ...

    @property
    def output_limit(self) -> int:
        """The default output cap of a command (the cluster's max_ops_file_size)."""
        ...

    @property
    def connection(self) -> PoolConnection:
        """The connection the slot is on now."""
        ...

    @property
    def label(self) -> str:
        """The connection's label, or ``-`` while the slot has none."""
        ...

    @property
    def runners(self) -> RunnerSet | None:
        """The persistent runners of the slot's connection (None: a channel per command)."""
        ...

    def command_started(self) -> None: ...

    def command_failed(self) -> None:
        """A command ended in an API error (counted as the user's failure)."""
        ...

    def running(self) -> AbstractContextManager[None]:
        """Around a whole command (`Lease.run`): the pool watches running commands for stalls."""
        ...

    def channel_opened(self) -> None:
        """A channel opened: the cluster answers."""
        ...

    def channel_refused(self) -> None:
        """The server refused a channel (counted in the metrics)."""
        ...

    def cluster_failure(self, reason: str) -> None:
        """Something that counts against the cluster (its circuit breaker)."""
        ...

    def connection_lost(self) -> None:
        """The connection broke while a command ran: take no more leases on it."""
        ...

    async def relocate(self) -> None:
        """Move the slot to another (maybe new) connection: the current one closed
        before the command started. Raises the connect error if none can be had."""
        ...


class Lease(Runner):
    """One channel slot, held for the duration of `async with pool.lease(...)`.

    Run commands on it one after the other (a lease is one channel at a time).
    """

    def __init__(self, slot: Slot) -> None:
        self._slot = slot

    @property
    def system(self) -> str:
        return self._slot.system

    @property
    def user(self) -> str:
        return self._slot.user

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | str | None = None,
        timeout: float | None = None,
        output_limit: int | None = None,
    ) -> CommandResult:
        """Run `argv` under a remote deadline, with `stdin`, and collect its output.

        On a channel of its own the command line quotes every word and runs under the
        remote `timeout`; on a runner the words are started as they are, without a shell,
        and the runner applies the same deadline.

        `timeout` defaults to the pool's command_timeout, `output_limit` (bytes,
        for stdout and stderr each) to the cluster's max_ops_file_size. If the
        caller is cancelled, the remote process is killed before this returns.

        Raises CommandTimeout (the process was killed), OutputTooLarge (the
        process was killed), SshConnectionLost, or a connect error if the
        command had to move to a new connection and none could be opened.
        """
        data = stdin.encode() if isinstance(stdin, str) else stdin
        with _Command(self._slot, tuple(argv), timeout, output_limit) as command, self._slot.running():
            completed = await self._run(command, data)
            command.exit_status = completed.exit_status
        return CommandResult(
            command.argv, completed.exit_status, completed.exit_signal, completed.stdout, completed.stderr
        )

    async def _run(self, command: _Command, stdin: bytes | None) -> Completed:
        try:
            return await self._on_a_channel(lambda conn: self._start(conn, command, stdin))
        except OutputLimitExceeded as exc:
            raise OutputTooLarge(f"the command's {exc.stream} passed {exc.limit} bytes and it was killed") from None
        except SshConnectionLost:
            self._slot.connection_lost()
            raise
        except _RunnerGone as exc:
            # Answered like a lost connection, but the connection and its other runners stay.
            raise SshConnectionLost(str(exc)) from None

    async def _start(self, conn: PoolConnection, command: _Command, stdin: bytes | None) -> Completed:
        """Run `command` on one of the connection's runners, or on a channel of its own."""
        runners = self._slot.runners
        if runners is not None and any("\0" in word for word in command.argv):
            # No command line can carry a NUL: sshd drops a connection sent one, a runner could not start it.
            raise _RunnerGone("a word of the command holds a NUL character, which no command can carry")
        while runners is not None:
            runner = await runners.take()
            if runner is None:
                break
            try:
                return await runner.run(
                    command.argv, deadline=command.deadline, kill_after=KILL_AFTER, stdin=stdin,
                    output_limit=command.limit,
                )  # fmt: skip
            except RunnerLost as exc:
                if not exc.sent:
                    continue  # it died idle; nothing ran: take another
                if conn.is_closed():
                    raise SshConnectionLost(f"SSH connection lost while running a command: {exc}") from None
                # Only the runner is gone (the connection stays): the command may have run.
                raise _RunnerGone(f"the command's runner was lost while it ran: {exc}") from None
            finally:
                runners.give_back(runner)
        return await conn.run(command.line, stdin=stdin, output_limit=command.limit)

    async def _on_a_channel(self, start: Callable[[PoolConnection], Awaitable[T]]) -> T:
        """`start` a command on the lease's connection; if the server refuses the
        channel, try again (after a pause, or on another connection)."""
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                result = await start(self._slot.connection)
            except ChannelRefused as exc:
                self._slot.channel_refused()
                await self._after_refusal(exc, attempt)
            else:
                self._slot.channel_opened()
                return result
        raise AssertionError("unreachable")

    async def _after_refusal(self, exc: ChannelRefused, attempt: int) -> None:
        if exc.connection_closed:
            self._slot.cluster_failure(f"channel open failed: {exc}")
        if attempt == _OPEN_ATTEMPTS - 1:
            self._slot.cluster_failure(f"channel refused {_OPEN_ATTEMPTS} times: {exc}")
            raise SshConnectFailed(f"the SSH server refused a channel {_OPEN_ATTEMPTS} times: {exc}")
        if exc.connection_closed:
            # Nothing ran: move to another (maybe new) connection.
            await self._slot.relocate()
        else:
            await trio.sleep(_OPEN_BACKOFF * 2**attempt)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        stderr_limit: int | None = None,
    ) -> AsyncIterator[Process]:
        """Start `argv` and stream it: `send_all`/`send_eof` to its stdin, `receive_some`
        from its stdout, `wait` for its end (stderr is kept up to `stderr_limit`).

        The whole block is bounded by `timeout` (default: the pool's
        command_timeout). On leaving the block the process is killed if it
        still runs.

        Raises CommandTimeout (the deadline passed; the process was killed),
        SshConnectionLost, or SshConnectFailed if no channel could be opened.
        """
        with _Command(self._slot, tuple(argv), timeout, stderr_limit) as command:
            async with contextlib.AsyncExitStack() as stack:
                runners = self._slot.runners
                if runners is not None:
                    await stack.enter_async_context(runners.streaming())
                process = await self._on_a_channel(
                    lambda conn: stack.enter_async_context(conn.open_process(command.line, stderr_limit=command.limit))
                )
                yield process
                command.exit_status = process.exit_status

    def __repr__(self) -> str:
        return f"<Lease {self.user}@{self.system} on {self._slot.label}>"


__all__ = ["CommandResult", "Lease", "Runner", "Slot"]
