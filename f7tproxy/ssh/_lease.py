"""A lease: one channel slot on one of a user's pooled connections, and the commands run on it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

import attrs
import trio

from ..observability import audit
from ..errors import ApiError, CommandTimeout, OutputTooLarge, SshConnectFailed, SshConnectionLost
from .._aio import ChannelRefused, Completed, OutputLimitExceeded, Process
from ._command import program_name, remote_command

if TYPE_CHECKING:
    from ._connector import PoolConnection
    from ._pool import PoolSupervisor, _Conn, _System, _User

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


@attrs.define
class _AuditRecord:
    exit_status: int | None = None
    error: str | None = None


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


class Lease(Runner):
    """One channel slot, held for the duration of `async with pool.lease(...)`.

    Run commands on it one after the other (a lease is one channel at a time).
    """

    def __init__(
        self, pool: PoolSupervisor, system: _System, user: _User, slot: _Conn, token: str | None
    ) -> None:
        self._pool = pool
        self._system = system
        self._user = user
        self._slot: _Conn | None = slot
        self._token = token

    @property
    def system(self) -> str:
        return self._system.cluster.name

    @property
    def user(self) -> str:
        return self._user.name

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | str | None = None,
        timeout: float | None = None,
        output_limit: int | None = None,
    ) -> CommandResult:
        """Run `argv` (each word quoted) under a remote `timeout`, with `stdin`, and collect its output.

        `timeout` defaults to the pool's command_timeout, `output_limit` (bytes,
        for stdout and stderr each) to the cluster's max_ops_file_size. If the
        caller is cancelled, the remote process is killed before this returns.

        Raises CommandTimeout (the process was killed), OutputTooLarge (the
        process was killed), SshConnectionLost, or a connect error if the
        command had to move to a new connection and none could be opened.
        """
        argv = tuple(argv)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        with self._command(argv, timeout, output_limit) as (command, limit, record):
            running, key = self._system.running, object()
            running[key] = trio.current_time()  # watched for stalls by the pool
            try:
                completed = await self._run(command, data, limit)
            finally:
                del running[key]
            record.exit_status = completed.exit_status
        return CommandResult(argv, completed.exit_status, completed.exit_signal, completed.stdout, completed.stderr)

    @contextlib.contextmanager
    def _command(
        self, argv: tuple[str, ...], timeout: float | None, limit: int | None
    ) -> Iterator[tuple[str, int, _AuditRecord]]:
        """One remote command, however it runs: counted, bounded by `timeout`, audited.

        Gives the command line (under the remote `timeout`), the output limit and the
        audit record; `timeout` defaults to the pool's command_timeout and `limit` to
        the cluster's max_ops_file_size. Raises CommandTimeout if the block outlives
        the deadline; API errors count as the user's failures.
        """
        timeout = self._system.config.command_timeout if timeout is None else timeout
        limit = self._system.cluster.max_ops_file_size if limit is None else limit
        command = remote_command(argv, timeout=timeout)
        self._user.commands += 1
        with self._audited(argv) as record:
            try:
                with trio.move_on_after(timeout) as scope:
                    yield command, limit, record
                if scope.cancelled_caught:
                    raise CommandTimeout(f"command {argv[0]!r} ran past its {timeout:g} s deadline and was killed")
            except ApiError:
                self._user.failures += 1
                raise

    @contextlib.contextmanager
    def _audited(self, argv: tuple[str, ...]) -> Iterator[_AuditRecord]:
        """Write the audit line of one remote command when it ends, however it ends."""
        record = _AuditRecord()
        started = trio.current_time()
        try:
            yield record
        except BaseException as exc:
            record.error = _audit_error(exc)
            raise
        finally:
            audit(
                user=self.user, system=self.system, action=program_name(argv),
                command=argv, exit_status=record.exit_status,
                duration=trio.current_time() - started, error=record.error,
            )  # fmt: skip

    async def _run(self, command: str, stdin: bytes | None, limit: int) -> Completed:
        try:
            return await self._on_a_channel(lambda conn: conn.run(command, stdin=stdin, output_limit=limit))
        except OutputLimitExceeded as exc:
            raise OutputTooLarge(f"the command's {exc.stream} passed {exc.limit} bytes and it was killed") from None
        except SshConnectionLost:
            assert self._slot is not None
            self._pool._drop(self._slot)
            raise

    async def _on_a_channel(self, start: Callable[[PoolConnection], Awaitable[T]]) -> T:
        """`start` a command on the lease's connection; if the server refuses the
        channel, try again (after a pause, or on another connection)."""
        for attempt in range(_OPEN_ATTEMPTS):
            slot = self._slot
            assert slot is not None
            try:
                result = await start(slot.conn)
            except ChannelRefused as exc:
                self._pool.report_failure(self._system, "channel")
                await self._after_refusal(exc, attempt)
            else:
                self._system.breaker.success()
                return result
        raise AssertionError("unreachable")

    async def _after_refusal(self, exc: ChannelRefused, attempt: int) -> None:
        if exc.connection_closed:
            self._system.breaker.failure(f"channel open failed: {exc}")
        if attempt == _OPEN_ATTEMPTS - 1:
            self._system.breaker.failure(f"channel refused {_OPEN_ATTEMPTS} times: {exc}")
            raise SshConnectFailed(f"the SSH server refused a channel {_OPEN_ATTEMPTS} times: {exc}")
        if exc.connection_closed:
            # Nothing ran: move to another (maybe new) connection.
            await self._pool._relocate(self)
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
        argv = tuple(argv)
        with self._command(argv, timeout, stderr_limit) as (command, limit, record):
            async with contextlib.AsyncExitStack() as stack:
                process = await self._on_a_channel(
                    lambda conn: stack.enter_async_context(conn.open_process(command, stderr_limit=limit))
                )
                yield process
                record.exit_status = process.exit_status

    def __repr__(self) -> str:
        label = self._slot.conn.label if self._slot is not None else "-"
        return f"<Lease {self.user}@{self.system} on {label}>"


__all__ = ["CommandResult", "Lease", "Runner"]
