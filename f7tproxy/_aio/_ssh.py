"""asyncssh behind a trio-native API: keys, certificates, connections and processes.

asyncssh runs on the trio-asyncio loop of `_loop`; everything here is called
from trio, with trio's cancellation and deadlines.

What this module gives the rest of the package:

- keys and certificates: `generate_user_key`, `import_private_key`,
  `import_certificate`, `sign_user_certificate`, `certificate_validity` (plain
  functions; ed25519 work is CPU-light). `PrivateKey` and `Certificate` are opaque.
- `connect` -> `Connection`: one logged-in SSH connection, with `run` (a whole
  command, output capped) and `open_process` (a streaming process).

Every remote process started here is stopped when its caller stops waiting:
cancellation, an output cap or a lost stream sends TERM to the remote process
group over the channel (OpenSSH's sshd delivers it with `killpg`), then KILL
after a short grace, then closes the channel. asyncssh alone would leave the
channel open and the process running (see the stack notes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncssh
import trio

from ..errors import HostKeyMismatch, SshConnectFailed, SshConnectionLost, SshLoginRefused
from ._coalesce import coalesce_writes
from ._keepalive import lazy_keepalive
from ._channel import CLOSE_TIMEOUT, ChannelRefused, Completed, OutputLimitExceeded, opened
from ._loop import call_aio
from ._runner import RemoteRunner, start_runner


log = logging.getLogger(__name__)
# asyncssh logs every channel open and close at INFO; keep only its warnings.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

PrivateKey = asyncssh.SSHKey
"""A private key (opaque outside this module)."""
Certificate = asyncssh.SSHCertificate
"""An OpenSSH certificate (opaque outside this module)."""

_KILL_GRACE = 0.5
"""Seconds a remote process has between TERM and KILL."""
_CLOSE_TIMEOUT = CLOSE_TIMEOUT
_READ_CHUNK = 65536


# --------------------------------------------------------------------------- keys


def generate_user_key() -> PrivateKey:
    """A new ed25519 key pair, kept in memory only."""
    return asyncssh.generate_private_key("ssh-ed25519")


def import_private_key(text: str, passphrase: str | None = None) -> PrivateKey:
    """Parse an OpenSSH or PEM private key.

    Raises ValueError if it cannot be read (bad format, wrong passphrase).
    """
    try:
        return asyncssh.import_private_key(text, passphrase)
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
        raise ValueError(str(exc)) from None


def import_certificate(text: str | bytes) -> Certificate:
    """Parse an OpenSSH certificate (``ssh-ed25519-cert-v01@openssh.com AAAA...``).

    Raises ValueError if it cannot be read.
    """
    try:
        return asyncssh.import_certificate(text)
    except asyncssh.KeyImportError as exc:
        raise ValueError(str(exc)) from None


def sign_user_certificate(
    ca: PrivateKey,
    key: PrivateKey,
    *,
    principal: str,
    valid_after: float,
    valid_before: float,
    key_id: str,
) -> Certificate:
    """A user certificate for `key`, signed by `ca`, valid for `principal` only."""
    return ca.generate_user_certificate(
        key,
        key_id,
        principals=[principal],
        valid_after=int(valid_after),
        valid_before=int(valid_before),
        permit_x11_forwarding=False,
        permit_agent_forwarding=False,
        permit_port_forwarding=False,
        permit_pty=True,
        permit_user_rc=False,
    )


def certificate_validity(cert: Certificate) -> tuple[float, float]:
    """The (valid_after, valid_before) wall-clock times of an OpenSSH certificate."""
    after = getattr(cert, "_valid_after", 0)
    before = getattr(cert, "_valid_before", 0xFFFFFFFFFFFFFFFF)
    return float(after), float(min(before, 2**62))


def certificate_principals(cert: Certificate) -> tuple[str, ...]:
    """The principals an OpenSSH certificate is valid for (empty: any)."""
    return tuple(getattr(cert, "principals", ()))


def public_key_text(key: PrivateKey | Certificate) -> str:
    """The one-line OpenSSH public form of a key or certificate."""
    if isinstance(key, asyncssh.SSHCertificate):
        return key.export_certificate("openssh").decode().strip()
    return key.export_public_key("openssh").decode().strip()


def private_key_text(key: PrivateKey) -> str:
    """The OpenSSH private form of a key (for tests and the bench only)."""
    return key.export_private_key("openssh").decode()


# --------------------------------------------------------------------------- connections


async def connect(
    host: str,
    port: int,
    *,
    username: str,
    key: PrivateKey,
    certificate: Certificate | None,
    known_hosts: pathlib.Path,
    connect_timeout: float,
    login_timeout: float,
    keepalive_interval: float,
    keepalive_count_max: int,
) -> Connection:
    """Log in to `host:port` as `username`, verifying the host key against `known_hosts`.

    Nothing else is trusted or used: see `_client_options`.

    Raises HostKeyMismatch if the host key is not the one in `known_hosts`,
    SshLoginRefused if the server refuses the key, SshConnectFailed otherwise
    (refused, unreachable, timed out, protocol error).
    """
    where = f"{host}:{port}"
    options = _client_options(username, key, certificate, known_hosts)
    try:
        conn = await call_aio(
            _connect, host, port, **options,
            connect_timeout=connect_timeout, login_timeout=login_timeout,
            keepalive_interval=keepalive_interval, keepalive_count_max=keepalive_count_max,
        )  # fmt: skip
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyMismatch(
            f"SSH host key of {where} did not match the configured known_hosts "
            f"({known_hosts}); refusing to connect ({exc.reason})"
        ) from None
    except asyncssh.PermissionDenied:
        raise SshLoginRefused(f"SSH login as {username} to {where} was refused (publickey)") from None
    except asyncssh.Error as exc:
        raise SshConnectFailed(f"SSH connection to {where} failed: {exc.reason}") from None
    except (OSError, asyncio.TimeoutError) as exc:
        text = "timed out" if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) else str(exc)
        raise SshConnectFailed(f"SSH connection to {where} failed: {text}") from None
    except asyncio.CancelledError:
        # Not our cancellation (that arrives as trio.Cancelled): the loop is going away.
        raise SshConnectFailed(f"SSH connection to {where} was interrupted") from None
    return Connection(conn, label=f"{username}@{where}")


ENCRYPTION_ALGS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"
"""asyncssh's `encryption_algs`: AES-GCM first (OpenSSL runs it in hardware: ~0.34 ms of client CPU
per command against ~0.50 ms with chacha20-poly1305), then asyncssh's defaults for servers without it."""


def _client_options(
    username: str, key: PrivateKey, certificate: Certificate | None, known_hosts: pathlib.Path
) -> dict[str, Any]:
    """asyncssh.connect's options: our key, and host keys from `known_hosts` only.

    For every option left out, asyncssh falls back to the service user's home
    directory or environment: it would read ~/.ssh/config, trust X.509 host
    certificates from ~/.ssh/ca-bundle.crt and ~/.ssh/crt, offer the keys of
    the agent ($SSH_AUTH_SOCK), of ~/.ssh/id_* and of a PKCS#11 provider, and
    try host-based and GSS-API logins. Each of those is switched off here.
    """
    client_key: Any = (key, certificate) if certificate is not None else key
    return {
        "username": username,
        "known_hosts": str(known_hosts),
        "x509_trusted_certs": None,
        "x509_trusted_cert_paths": [],
        "config": None,
        "client_keys": [client_key],
        "client_host_keys": None,
        "client_host_keysign": False,
        "agent_path": None,
        "agent_identities": None,
        "agent_forwarding": False,
        "pkcs11_provider": None,
        "preferred_auth": "publickey",
        "host_based_auth": False,
        "gss_host": None,
        "gss_kex": False,
        "gss_auth": False,
        "password": None,
        "encryption_algs": ENCRYPTION_ALGS,
    }


class Connection:
    """One logged-in SSH connection, driven from trio.

    Several commands may run on it at once, each on its own channel; the caller
    keeps the number of channels within the server's MaxSessions.
    """

    def __init__(self, conn: asyncssh.SSHClientConnection, *, label: str) -> None:
        self._conn = conn
        self.label = label

    @property
    def cipher(self) -> str:
        """The cipher negotiated for what this side sends (e.g. ``aes128-gcm@openssh.com``)."""
        return str(self._conn.get_extra_info("send_cipher"))

    def is_closed(self) -> bool:
        """True once the connection is closed or lost."""
        return self._conn.is_closed()

    async def run(self, command: str, *, stdin: bytes | None, output_limit: int) -> Completed:
        """Run the shell command line `command`, feed it `stdin`, and collect its output.

        Cancelling the caller stops the remote process (TERM, then KILL) before
        this returns.

        Raises ChannelRefused (nothing ran), OutputLimitExceeded (stdout or
        stderr passed `output_limit` bytes; the process was stopped),
        SshConnectionLost (the connection died while the command ran).
        """
        return await call_aio(_run, self._conn, command, stdin, output_limit)

    @contextlib.asynccontextmanager
    async def open_process(self, command: str, *, stderr_limit: int) -> AsyncIterator[Process]:
        """Start `command` and stream its stdin and stdout; see `Process`.

        On leaving the block the process is stopped (TERM, then KILL) if it is
        still running, and its channel is closed.

        Raises ChannelRefused if the channel could not be opened.
        """
        proc = await call_aio(_open_process, self._conn, command)
        process = Process(proc, stderr_limit=stderr_limit)
        try:
            await call_aio(process._start)
            yield process
        finally:
            with trio.CancelScope(shield=True):
                await call_aio(process._finish)

    async def start_runner(self, *, interpreter: str, start_timeout: float) -> RemoteRunner:
        """Start a persistent runner (see `_runner.py`) on a new channel of this connection.

        Raises ChannelRefused (no channel; nothing ran), RunnerUnavailable (the runner did
        not start within `start_timeout`, or cannot start here: no `interpreter`).
        """
        return await call_aio(start_runner, self._conn, interpreter=interpreter, start_timeout=start_timeout)

    async def aclose(self) -> None:
        """Close the connection and wait (briefly) until it is closed; never raises."""
        with contextlib.suppress(Exception):
            await call_aio(_close_connection, self._conn)

    async def wait_closed(self) -> None:
        """Return once the connection is closed (by us, the server, or failed keepalives)."""
        await call_aio(self._conn.wait_closed)

    def __repr__(self) -> str:
        return f"<Connection {self.label}{' closed' if self.is_closed() else ''}>"


class Process:
    """A remote process started by `Connection.open_process`, driven from trio.

    stdout is read with `receive_some`; stderr is collected in the background
    (up to `stderr_limit` bytes, the rest is dropped) and returned by `wait`.
    """

    def __init__(self, proc: asyncssh.SSHClientProcess[bytes], *, stderr_limit: int) -> None:
        self._proc = proc
        self._stderr_limit = stderr_limit
        self._stderr = bytearray()
        self._stderr_task: asyncio.Future[None] | None = None

    async def send_all(self, data: bytes) -> None:
        """Write `data` to the process's stdin (waiting for flow control).

        Raises SshConnectionLost if the channel is gone.
        """
        await call_aio(self._send, data)

    async def send_eof(self) -> None:
        """Close the process's stdin."""
        await call_aio(self._send_eof)

    async def receive_some(self, max_bytes: int = _READ_CHUNK) -> bytes:
        """Up to `max_bytes` of stdout; b"" at the end.

        Raises SshConnectionLost if the connection dies.
        """
        return await call_aio(self._receive, max_bytes)

    @property
    def exit_status(self) -> int | None:
        """The exit status once the process has exited normally, else None."""
        return self._proc.exit_status if self._proc.exit_signal is None else None

    async def wait(self) -> Completed:
        """Wait until the process has exited and its channel closed; its stdout is not kept.

        Raises SshConnectionLost if the connection dies.
        """
        return await call_aio(self._wait)

    # asyncio side

    async def _start(self) -> None:
        self._stderr_task = asyncio.ensure_future(self._collect_stderr())

    async def _collect_stderr(self) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            while chunk := await self._proc.stderr.read(_READ_CHUNK):
                room = self._stderr_limit - len(self._stderr)
                self._stderr += chunk[: max(room, 0)]

    async def _send(self, data: bytes) -> None:
        try:
            self._proc.stdin.write(data)
            await self._proc.stdin.drain()
        except (asyncssh.Error, OSError) as exc:
            raise SshConnectionLost(f"SSH channel closed while sending stdin: {exc}") from None

    async def _send_eof(self) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            self._proc.stdin.write_eof()

    async def _receive(self, max_bytes: int) -> bytes:
        try:
            return await self._proc.stdout.read(max_bytes)
        except (asyncssh.Error, OSError) as exc:
            raise SshConnectionLost(f"SSH connection lost while reading output: {exc}") from None

    async def _wait(self) -> Completed:
        try:
            await _drain(self._proc.stdout)
            if self._stderr_task is not None:
                await self._stderr_task
            await self._proc.wait_closed()
        except (asyncssh.Error, OSError) as exc:
            raise SshConnectionLost(f"SSH connection lost while waiting for exit: {exc}") from None
        return _completed(self._proc, b"", bytes(self._stderr))

    async def _finish(self) -> None:
        # One reader per stream: stop ours before `_stop` drains stderr.
        if self._stderr_task is not None and not self._stderr_task.done():
            self._stderr_task.cancel()
            with contextlib.suppress(BaseException):
                await self._stderr_task
        if not _exited(self._proc):
            await _stop(self._proc)
        else:
            self._proc.close()
            await _wait_closed(self._proc)


# --------------------------------------------------------------------------- asyncio side


async def _connect(host: str, port: int, **options: Any) -> asyncssh.SSHClientConnection:
    conn = await asyncssh.connect(host, port, **options)
    coalesce_writes(conn)
    lazy_keepalive(conn)
    return conn


S = TypeVar("S", bound=asyncssh.SSHClientSession[bytes])


async def _exec(
    conn: asyncssh.SSHClientConnection,
    command: str,
    make: Callable[[], S],
    stop: Callable[[tuple[asyncssh.SSHClientChannel[bytes], S]], Awaitable[None]],
) -> tuple[asyncssh.SSHClientChannel[bytes], S]:
    """Open a session channel and start `command` on it, with the session `make()` returns.

    Raises ChannelRefused (nothing ran) or SshConnectionLost (the connection died after the
    exec request went out: the command may have run, so it is not retried elsewhere).
    """
    made: list[S] = []

    def session() -> S:
        # asyncssh makes the session once the channel is open and sends the exec request in
        # the same step: from here on the command may run.
        made.append(make())
        return made[0]

    # asyncssh types the session as its base class; it is the one `make` made.
    opening = cast(Awaitable[tuple[asyncssh.SSHClientChannel[bytes], S]],
                   conn.create_session(session, command, encoding=None))  # fmt: skip
    try:
        return await opened(conn, opening, stop)
    except ChannelRefused as exc:
        if made and exc.connection_closed:
            raise SshConnectionLost(f"SSH connection lost while starting a command: {exc}") from None
        raise


async def _open_process(conn: asyncssh.SSHClientConnection, command: str) -> asyncssh.SSHClientProcess[bytes]:
    """asyncssh's `create_process(command)` (a session channel with an SSHClientProcess, then
    the PIPE redirects), with `_exec`'s telling of a channel refused from a command lost."""
    _, proc = await _exec(conn, command, asyncssh.SSHClientProcess[bytes], _stop_process)
    await proc.redirect(asyncssh.PIPE, asyncssh.PIPE, asyncssh.PIPE)
    return proc


async def _stop_process(started: tuple[asyncssh.SSHClientChannel[bytes], asyncssh.SSHClientProcess[bytes]]) -> None:
    await _stop(started[1])


class _Collector(asyncssh.SSHClientSession[bytes]):
    """Collects a command's stdout and stderr as they arrive (no reader tasks), up to a limit each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out = bytearray()
        self.err = bytearray()
        self.overflow: str | None = None
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = loop.create_future()
        """Done when the channel has closed."""
        self.wake: asyncio.Future[None] = loop.create_future()
        """Done when the channel has closed or the output passed the limit."""

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self.overflow is not None:
            return
        stderr = datatype == asyncssh.EXTENDED_DATA_STDERR
        buf = self.err if stderr else self.out
        buf += data
        if len(buf) > self.limit:
            self.overflow = "stderr" if stderr else "stdout"
            if not self.wake.done():
                self.wake.set_result(None)

    def eof_received(self) -> bool:
        # Keep our side open: asyncssh would otherwise answer the command's EOF with ours at
        # once, and the stdin not yet written would be refused while the command still runs.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.closed, self.wake):
            if fut.done():
                continue
            if exc is None:
                fut.set_result(None)
            else:
                fut.set_exception(exc)
                # Seen here: the awaiting side may be gone, and asyncio logs unseen errors.
                fut.exception()


_Session = tuple[asyncssh.SSHClientChannel[bytes], _Collector]


async def _run(conn: asyncssh.SSHClientConnection, command: str, stdin: bytes | None, limit: int) -> Completed:
    chan, session = await _exec(conn, command, lambda: _Collector(limit), _stop_session)
    try:
        if stdin:
            _write_input(chan, stdin)
        chan.write_eof()
        await asyncio.shield(session.wake)
        if session.overflow is not None:
            raise OutputLimitExceeded(session.overflow, limit)
    except BaseException as exc:
        await _stop_session((chan, session))
        if isinstance(exc, (asyncssh.Error, OSError)):
            raise SshConnectionLost(f"SSH connection lost while running a command: {exc}") from None
        raise
    signal = chan.get_exit_signal()
    return Completed(
        exit_status=None if signal is not None else chan.get_exit_status(),
        exit_signal=signal[0] if signal is not None else None,
        stdout=bytes(session.out),
        stderr=bytes(session.err),
    )


def _write_input(chan: asyncssh.SSHClientChannel[bytes], data: bytes) -> None:
    """Write a command's stdin; the server may have closed the channel already.

    A fast command can exit, and sshd close its channel, before we write: when the loop is
    busy, the reply to the exec request and the channel's close are read together. The
    command did not read its stdin then, and its exit status and output are on their way
    (`_Collector`). A connection lost meanwhile is not hidden: it fails the collector's wait.
    """
    try:
        chan.write(data)
    except BrokenPipeError:
        pass


async def _stop_session(opened: _Session) -> None:
    """Like `_stop`, for a channel whose output a `_Collector` takes in."""
    chan, session = opened
    if chan.get_exit_status() is None and chan.get_exit_signal() is None:
        _signal(chan, "TERM")
        try:
            await asyncio.wait_for(asyncio.shield(session.closed), _KILL_GRACE)
        except (asyncio.TimeoutError, asyncssh.Error, OSError):
            _signal(chan, "KILL")
    chan.close()
    with contextlib.suppress(asyncio.TimeoutError, asyncssh.Error, OSError):
        await asyncio.wait_for(chan.wait_closed(), _CLOSE_TIMEOUT)


async def _drain(stream: asyncssh.SSHReader[bytes]) -> None:
    while await stream.read(_READ_CHUNK):
        pass


def _exited(proc: asyncssh.SSHClientProcess[bytes]) -> bool:
    return proc.exit_status is not None or proc.exit_signal is not None


def _completed(proc: asyncssh.SSHClientProcess[bytes], out: bytes, err: bytes) -> Completed:
    signal = proc.exit_signal
    return Completed(
        exit_status=None if signal is not None else proc.exit_status,
        exit_signal=signal[0] if signal is not None else None,
        stdout=out,
        stderr=err,
    )


def _signal(target: asyncssh.SSHClientProcess[bytes] | asyncssh.SSHClientChannel[bytes], name: str) -> None:
    with contextlib.suppress(asyncssh.Error, OSError):
        target.send_signal(name)


async def _stop(proc: asyncssh.SSHClientProcess[bytes]) -> None:
    """Stop the remote process group and close its channel; bounded in time, never raises.

    Runs also when the calling task was cancelled: it has its own deadlines.
    """
    # (Not `proc.is_closing()`: that is already true once we sent EOF on stdin.)
    if not _exited(proc):
        _signal(proc, "TERM")
        # Keep reading so a process blocked on a full channel window can see the
        # signal and exit, and sshd can report its exit.
        try:
            await asyncio.wait_for(_drain_both_and_close(proc), _KILL_GRACE)
        except (asyncio.TimeoutError, asyncssh.Error, OSError):
            _signal(proc, "KILL")
    proc.close()
    await _wait_closed(proc)


async def _drain_both_and_close(proc: asyncssh.SSHClientProcess[bytes]) -> None:
    await asyncio.gather(_drain(proc.stdout), _drain(proc.stderr))
    await proc.wait_closed()


async def _wait_closed(proc: asyncssh.SSHClientProcess[bytes]) -> None:
    with contextlib.suppress(asyncio.TimeoutError, asyncssh.Error, OSError):
        await asyncio.wait_for(proc.wait_closed(), _CLOSE_TIMEOUT)


async def _close_connection(conn: asyncssh.SSHClientConnection) -> None:
    conn.close()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(conn.wait_closed(), _CLOSE_TIMEOUT)

