"""A persistent remote runner on one SSH channel: commands without an sshd session each.

`start_runner` opens one exec channel, the way a command is started, and runs
`python3 -I -c BOOT MARKER` on it; BOOT reads the runner's code (`_runner_remote.py`)
from the channel and runs it, so nothing is installed or left on the cluster. Then
`RemoteRunner.run` sends a command (its argument list, run without a shell, and its
remote deadline) as one frame and reads back length-prefixed frames of its stdout and
stderr and its end (the protocol is in `_runner_remote.py`).

Cancelling a `run` asks the runner to stop the command's process group (TERM, KILL
after a grace) and waits, bounded, for its end; a runner that does not answer in time
is closed (its channel's EOF makes it stop the command and exit; its death TERMs the
command). A closed or dead runner is not reused: the caller starts another.
"""

from __future__ import annotations

import asyncio
import contextlib
import pkgutil
import secrets
import shlex
import struct
from collections.abc import Sequence

import asyncssh
import trio

from ._loop import call_aio
from ._channel import ChannelRefused, Completed, OutputLimitExceeded, opened

_HEAD = struct.Struct(">cQ")
_COMMAND = struct.Struct(">QBII")
_CMDLEN = struct.Struct(">I")
_KILL_GRACE = 0.5
"""The runner's own grace between TERM and KILL (`GRACE` in the remote code)."""
_STOP_WAIT = _KILL_GRACE + 1.0
"""How long a stopped command's end may take to come back before the runner is given up."""
_CLOSE_TIMEOUT = 2.0
_MARKER_SEARCH = 65536
"""Bytes of start-up output (a chatty login shell) searched for the runner's marker."""
_ERRORS_KEPT = 4096

_code = pkgutil.get_data(__name__, "_runner_remote.py")
if _code is None:
    raise ImportError(f"{__name__}: its loader cannot read _runner_remote.py")
_CODE: bytes = _code
"""The remote code, read by this module's own loader (in the zipapp, zipimport, through the
archive's directory it has read already; importlib.resources would read that again)."""
# Reads exactly the code from stdin (a read may return less), then runs it as __main__.
# One line, no single quotes: it is passed to the login shell quoted, like every command.
_BOOT = (
    "import os;b=bytearray();n=%d;"
    'exec("while len(b)<n:\\n c=os.read(0,n-len(b))\\n if not c:raise SystemExit(3)\\n b+=c");'
    "exec(bytes(b))"
) % len(_CODE)


class RunnerUnavailable(Exception):
    """No runner could be started on this connection (nothing ran).

    `permanent`: the remote cannot run one at all (no python3, a broken start); else
    it may work next time (it was slow to start, or was killed while starting).
    """

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class RunnerLost(Exception):
    """The runner died or stopped answering. `sent`: the command had been sent (it may have run)."""

    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.sent = sent


class _Lost(Exception):
    pass


class _Command:
    """One command in flight: its output so far, and its end (`end`, or why the runner was `lost`).

    `done` is a trio event: the session's callbacks set it on the loop's turn, and the trio
    caller waits for it directly, with no asyncio task or future in between."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out = bytearray()
        self.err = bytearray()
        self.end: bytes | None = None
        self.lost: str | None = None
        self.done = trio.Event()


class _RunnerSession(asyncssh.SSHClientSession[bytes]):
    """Parses the runner's frames as they arrive (no reader tasks)."""

    def __init__(self, marker: bytes) -> None:
        loop = asyncio.get_running_loop()
        self._marker = b"\nF7TRUNNER " + marker + b"\n"
        self._buf = bytearray()
        self._started = False
        self.ready: asyncio.Future[str] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.current: _Command | None = None
        self.errors = bytearray()
        """The runner's own stderr (the start of it), for messages."""
        self.lost: str | None = None
        """Why the runner is gone, once it is."""
        self.chan: asyncssh.SSHClientChannel[bytes] | None = None

    def connection_made(self, chan: asyncssh.SSHClientChannel[bytes]) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if datatype == asyncssh.EXTENDED_DATA_STDERR:
            self.errors += data[: max(0, _ERRORS_KEPT - len(self.errors))]
            return
        buf = self._buf
        buf += data
        if not self._started:
            at = buf.find(self._marker)
            if at < 0:
                if len(buf) > _MARKER_SEARCH:
                    self._give_up("its start-up output had no marker")
                return
            del buf[: at + len(self._marker)]
            self._started = True
        pos, size = 0, len(buf)
        while size - pos >= _HEAD.size:
            kind, length = _HEAD.unpack_from(buf, pos)
            start = pos + _HEAD.size
            end = start + length
            if end > size:
                break
            self._frame(kind, buf, start, end)
            pos = end
        if pos:
            del buf[:pos]

    def _frame(self, kind: bytes, buf: bytearray, start: int, end: int) -> None:
        cur = self.current
        if kind in (b"O", b"E") and cur is not None:
            target = cur.out if kind == b"O" else cur.err
            # The runner enforces the limit; this only bounds what a faulty one could make us keep.
            room = cur.limit + 1 - len(target)
            if room > 0:
                target += buf[start : min(end, start + room)]
        elif kind == b"X" and cur is not None:
            self.current = None
            cur.end = bytes(buf[start:end])
            cur.done.set()
        elif kind == b"R" and not self.ready.done():
            self.ready.set_result(buf[start:end].decode("ascii", "replace"))
        else:
            self._give_up(f"it sent an unexpected frame {kind!r}")

    def _give_up(self, reason: str) -> None:
        self._lose(f"the runner broke its protocol: {reason}")
        if self.chan is not None:
            self.chan.close()

    def _lose(self, reason: str) -> None:
        if self.lost is None:
            self.lost = reason
        if not self.ready.done():
            self.ready.set_exception(_Lost(self.lost))
            self.ready.exception()  # the waiting side may be gone: no "never retrieved" log
        cur, self.current = self.current, None
        if cur is not None and not cur.done.is_set():
            cur.lost = self.lost
            cur.done.set()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "its channel closed" if exc is None else f"its channel was lost: {exc}"
        if self.chan is not None:
            status = self.chan.get_exit_status()
            signal = self.chan.get_exit_signal()
            if signal is not None:
                reason = f"it was killed by SIG{signal[0]}"
            elif status is not None:
                reason = f"it exited with status {status}"
        first = bytes(self.errors).decode("utf-8", "replace").strip().splitlines()
        if first:
            reason += f" ({first[-1][:200]})"
        self._lose(reason)
        if not self.closed.done():
            self.closed.set_result(None)


class RemoteRunner:
    """One runner on its own channel, driven from trio; one command at a time."""

    def __init__(self, chan: asyncssh.SSHClientChannel[bytes], session: _RunnerSession, version: str) -> None:
        self._chan = chan
        self._session = session
        self.version = version
        """The remote Python's version (``python 3.11``)."""

    def is_alive(self) -> bool:
        """False once the runner is gone (or given up): it must not be used again."""
        return self._session.lost is None and not self._chan.is_closing()

    async def run(
        self, argv: Sequence[str], *, deadline: int | None, kill_after: int, stdin: bytes | None, output_limit: int
    ) -> Completed:
        """Run `argv` as a child of the runner (no shell: the words as they are), with `stdin`.

        After `deadline` seconds (None: none) the runner TERMs the command's process group,
        KILLs it `kill_after` seconds later and reports status 124 (or the KILL), as
        coreutils' `timeout --kill-after` does. Cancelling the caller stops the command's
        process group before this returns.

        Raises ValueError (an empty `argv`, or a word with NUL: no command can hold one;
        nothing was sent), OutputLimitExceeded (stdout or stderr passed `output_limit`; the
        command was stopped), RunnerLost (the runner died or broke; `sent` says whether the
        command may have run).
        """
        words = [word.encode() for word in argv]
        if not words or any(b"\0" in word for word in words):
            raise ValueError("a command needs one word or more, none with a NUL")
        body = b"\0".join(words)
        head = _COMMAND.pack(output_limit, 1 if stdin else 0, deadline or 0, kill_after) + _CMDLEN.pack(len(body))
        payload = head + body + stdin if stdin else head + body
        # No crossing into asyncio: writing to the channel is a plain call (asyncssh encrypts the
        # packet and hands it to the connection's transport, which sends it on the loop's next
        # turn), and the session's callbacks set the command's trio event when its end arrives.
        session = self._session
        if not self.is_alive():
            raise RunnerLost(session.lost or "the runner was closed", sent=False)
        cmd = _Command(output_limit)
        session.current = cmd
        try:
            self._chan.write(_HEAD.pack(b"C", len(payload)) + payload)
        except (asyncssh.Error, OSError) as exc:  # it closed just now: nothing was sent
            session.current = None
            raise RunnerLost(f"the runner's channel closed: {exc}", sent=False) from None
        try:
            await cmd.done.wait()
        except trio.Cancelled:
            with trio.CancelScope(shield=True):
                await self._stop(cmd)
            raise
        if cmd.lost is not None or cmd.end is None:
            raise RunnerLost(cmd.lost or "the runner was lost", sent=True)
        status, signal, overflow = cmd.end.split(b" ")
        if overflow != b"-":
            raise OutputLimitExceeded(overflow.decode(), output_limit)
        return Completed(
            exit_status=None if status == b"-" else int(status),
            exit_signal=None if signal == b"-" else signal.decode(),
            stdout=bytes(cmd.out),
            stderr=bytes(cmd.err),
        )

    async def aclose(self) -> None:
        """Close the runner's channel (the runner stops its command and exits); never raises."""
        with trio.CancelScope(shield=True), contextlib.suppress(Exception):
            await call_aio(self._close)

    async def _stop(self, cmd: _Command) -> None:
        """Stop the command in flight and wait (bounded) for its end; give the runner up if it does not come."""
        with contextlib.suppress(asyncssh.Error, OSError):
            self._chan.write(_HEAD.pack(b"K", 0))
        with trio.move_on_after(_STOP_WAIT):
            await cmd.done.wait()
        if cmd.end is None:
            # Given up without waiting for the close (a hung login node would not confirm it):
            # the runner sees its input end, stops the command and exits.
            self._session._lose("it did not answer a stop in time")
            self._chan.close()

    # asyncio side

    async def _close(self) -> None:
        self._session._lose("it was closed")
        self._chan.close()
        with contextlib.suppress(asyncio.TimeoutError, asyncssh.Error, OSError):
            await asyncio.wait_for(self._chan.wait_closed(), _CLOSE_TIMEOUT)


async def start_runner(conn: asyncssh.SSHClientConnection, *, interpreter: str, start_timeout: float) -> RemoteRunner:
    """Start a runner on a new channel of `conn` (asyncio side; see `Connection.start_runner`)."""
    marker = secrets.token_hex(8)
    command = f"exec {shlex.quote(interpreter)} -I -c {shlex.quote(_BOOT)} {marker}"
    opening = conn.create_session(lambda: _RunnerSession(marker.encode()), command, encoding=None)
    chan, session = await opened(conn, opening, _close_opened)
    assert isinstance(session, _RunnerSession)
    try:
        # A remote that cannot start the interpreter may close the channel before the code is sent:
        # then `ready` fails with the exit status.
        with contextlib.suppress(asyncssh.Error, OSError):
            chan.write(_CODE)
        version = await asyncio.wait_for(asyncio.shield(session.ready), start_timeout)
    except BaseException as exc:
        await _close_opened((chan, session))
        if isinstance(exc, asyncio.TimeoutError):
            raise RunnerUnavailable(f"the runner did not start within {start_timeout:g} s", permanent=False) from None
        if not isinstance(exc, _Lost):
            raise
        if conn.is_closed():
            raise ChannelRefused(str(exc), connection_closed=True) from None
        # Killed while starting may pass; a runner that cannot start at all will not.
        permanent = chan.get_exit_signal() is None
        raise RunnerUnavailable(f"the runner did not start: {exc}", permanent=permanent) from None
    return RemoteRunner(chan, session, version)


async def _close_opened(opened: tuple[asyncssh.SSHClientChannel[bytes], asyncssh.SSHClientSession[bytes]]) -> None:
    chan, session = opened
    if isinstance(session, _RunnerSession):
        session._lose("it was closed")
    chan.close()
    with contextlib.suppress(asyncio.TimeoutError, asyncssh.Error, OSError):
        await asyncio.wait_for(chan.wait_closed(), _CLOSE_TIMEOUT)
