"""The remote runner: one Python process per SSH slot that runs f7tproxy's commands one at a time.

This file is not imported by f7tproxy: its text is sent over the runner's channel when the
runner starts (`python3 -I -c BOOT MARKER`, BOOT reads exactly this file from stdin and
executes it) and nothing is installed or left on the cluster. It must run on the Python 3
of a login node (3.6 and later), so it uses nothing newer.

Frames, both ways: one type byte, an 8-byte big-endian payload length, the payload. The
length says where a frame ends, so no byte of any output can be mistaken for framing.

    f7tproxy -> runner   C  limit (8 bytes), flags (1 byte: 1 = stdin given), the deadline and the
                            kill-after grace (4 bytes each, whole seconds; deadline 0: none), the
                            argument list, length-prefixed (4 bytes), its words separated by NUL
                            (no word can hold a NUL), then stdin (the rest)
                         K  stop the command in flight: TERM to its process group, KILL after a grace
    runner -> f7tproxy   R  ready (payload: the Python version)
                         O  a chunk of the command's stdout      E  a chunk of its stderr
                         X  the command ended: b"<status> <signal> <overflow>" ("-" for none)

Before its first frame the runner writes the marker line `F7TRUNNER <marker>`, so anything
the login shell's start-up files print is told apart from the frames.

Each command is its argument list, started as it is (no shell, no quoting: the program is
looked up in the PATH the runner was started with, as the shell would) in a new session
(its own process group), with the environment the runner was started with, the runner's
working directory and umask, and no file descriptor of the runner's but its own three
pipes: a command changes nothing the next one sees. It is started with posix_spawnp (a
vfork-style clone: no copy of the runner's memory, no Python in the child) where the Python
has it (3.8 and later), else with subprocess. A program that cannot be started ends with
status 127 (not found) or 126 (any other error) and the reason on stderr, as under `timeout`
(one difference: a file without `#!` is not handed to /bin/sh, as execvp would: 126).
Its output is sent when it ends, with its end frame, in one write (so usually one SSH
packet), or in 64 KiB pieces while it runs if it writes more.

The runner applies the command's deadline itself, as coreutils' `timeout --kill-after`
did in front of every command (the same values): at the deadline its process group gets
TERM, and KILL after the grace; a command ended after that TERM reports status 124, one
that needed the KILL reports being killed by KILL. (f7tproxy's own deadline comes first
and stops the command with a K frame; this one bounds it if that stop never arrives.)

If the runner is told to stop (TERM, HUP) or loses f7tproxy (EOF on stdin), it stops the
command in flight first. If it is killed outright (KILL), nothing bounds the command any
more: its pipes close, so one that writes output gets SIGPIPE, one that does not runs to its
end. A parent-death signal would need a Python hook in every child, which doubled the
runner's cost per command; a `timeout` in front of every command cost more than the command.
"""

import errno
import os
import select
import signal
import struct
import subprocess
import sys
import time

try:
    from typing import Any, Callable, Dict, List, Optional, Tuple, Union
except ImportError:  # pragma: no cover - typing is in every Python 3 since 3.5
    pass

HEAD = struct.Struct(">cQ")
SPAWN = getattr(os, "posix_spawnp", None)
"""os.posix_spawnp (Python 3.8 and later; with setsid), else None: subprocess.Popen."""
DEFAULT_SIGNALS = [getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)]
"""Signals Python ignores that a command gets back at their defaults (as subprocess's restore_signals).
(glibc's posix_spawn leaves its two internal signals, 32 and 33, ignored in the child, as it does for
every program spawned so; the C library of the command installs its own handlers when it needs them.)"""
COMMAND = struct.Struct(">QBII")
CMDLEN = struct.Struct(">I")
GRACE = 0.5
"""Seconds between TERM and KILL when a command is stopped."""
CHUNK = 65536


def initial_environment():
    # type: () -> Optional[Dict[bytes, bytes]]
    """The environment this process was started with.

    Python changes its own (it may set LC_CTYPE to coerce a C locale); the kernel keeps
    the one it was started with in /proc/self/environ. None: use os.environ.
    """
    try:
        with open("/proc/self/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    env = {}  # type: Dict[bytes, bytes]
    for item in raw.split(b"\0"):
        key, eq, value = item.partition(b"=")
        if eq:
            env[key] = value
    return env


class Stop(Exception):
    """The runner must end (its input closed, a protocol error, or a TERM/HUP)."""


class NotStarted(Exception):
    """The command's program could not be started (`error`: the OSError)."""

    def __init__(self, error):
        # type: (OSError) -> None
        Exception.__init__(self, str(error))
        self.error = error


def write_all(data):
    # type: (Union[bytes, bytearray]) -> None
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


def send(kind, payload=b""):
    # type: (bytes, bytes) -> None
    write_all(HEAD.pack(kind, len(payload)) + payload)


def set_nonblocking(fd):
    # type: (int) -> None
    os.set_blocking(fd, False)


def no_inherited_fds():
    # type: () -> bool
    """Mark every descriptor but 0, 1, 2 close-on-exec (what close_fds does for each child).

    False if they cannot be listed (no /proc): then commands are started with subprocess.
    """
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except (OSError, ValueError):
        return False
    for fd in fds:
        if fd > 2:
            try:
                os.set_inheritable(fd, False)
            except OSError:  # the listing's own descriptor, closed by now
                pass
    return True


def exit_code(status):
    # type: (int) -> int
    """A wait status as subprocess's returncode (-N: killed by signal N)."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Child(object):
    """A command's process, its argument list started in a session of its own, and our ends of its pipes.

    Raises NotStarted if the program cannot be started (nothing is left open then).
    """

    def __init__(self, argv, env, with_stdin, spawn):
        # type: (List[bytes], Optional[Dict[bytes, bytes]], bool, bool) -> None
        self.returncode = None  # type: Optional[int]
        self.stdin = None  # type: Optional[int]
        self.popen = None  # type: Optional[subprocess.Popen[bytes]]
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        if with_stdin:
            in_r, self.stdin = os.pipe()
        else:
            in_r = os.open(os.devnull, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self.stdout, self.stderr = out_r, err_r
        try:
            if spawn and SPAWN is not None:
                actions = [(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
                self.pid = SPAWN(argv[0], argv, os.environ if env is None else env, file_actions=actions,
                                 setsid=True, setsigdef=DEFAULT_SIGNALS)
            else:
                self.popen = subprocess.Popen(argv, stdin=in_r, stdout=out_w, stderr=err_w, env=env,
                                              close_fds=True, start_new_session=True)
                self.pid = self.popen.pid
        except OSError as exc:
            for fd in (out_r, err_r, self.stdin):
                if fd is not None:
                    os.close(fd)
            raise NotStarted(exc)
        except BaseException:
            for fd in (out_r, err_r, self.stdin):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in (in_r, out_w, err_w):
                os.close(fd)

    def poll(self):
        # type: () -> Optional[int]
        if self.returncode is None:
            if self.popen is not None:
                self.returncode = self.popen.poll()
            else:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    pid, status = self.pid, 255 << 8
                if pid == self.pid:
                    self.returncode = exit_code(status)
        return self.returncode

    def close_stdin(self):
        # type: () -> None
        if self.stdin is not None:
            try:
                os.close(self.stdin)
            except OSError:
                pass
            self.stdin = None


class Runner(object):
    def __init__(self):
        # type: () -> None
        self.inbuf = bytearray()
        self.env = initial_environment()
        self.wake_r, wake_w = os.pipe()
        set_nonblocking(self.wake_r)
        set_nonblocking(wake_w)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        self.proc = None  # type: Optional[Child]
        self.closed_input = False
        self.spawn = no_inherited_fds()
        self.outbuf = bytearray()
        """Frames not written yet: a command's output goes out with its end, or in CHUNK pieces."""

    # input

    def read_input(self):
        # type: () -> None
        data = os.read(0, CHUNK)
        if not data:
            self.closed_input = True
        self.inbuf += data

    def next_frame(self):
        # type: () -> Optional[Tuple[bytes, bytes]]
        if len(self.inbuf) < HEAD.size:
            return None
        kind, size = HEAD.unpack_from(self.inbuf)
        end = HEAD.size + size
        if len(self.inbuf) < end:
            return None
        payload = bytes(self.inbuf[HEAD.size:end])
        del self.inbuf[:end]
        return kind, payload

    def wait_frame(self):
        # type: () -> Tuple[bytes, bytes]
        while True:
            frame = self.next_frame()
            if frame is not None:
                return frame
            if self.closed_input:
                raise Stop()
            self.read_input()

    def serve(self):
        # type: () -> None
        send(b"R", ("python %d.%d" % sys.version_info[:2]).encode())
        while True:
            kind, payload = self.wait_frame()
            if kind == b"K":
                continue  # for a command that already ended
            if kind != b"C":
                raise Stop()
            limit, flags, deadline, kill_after = COMMAND.unpack_from(payload)
            at = COMMAND.size
            (size,) = CMDLEN.unpack_from(payload, at)
            at += CMDLEN.size
            argv = payload[at:at + size].split(b"\0")
            stdin = payload[at + size:] if flags & 1 else None
            try:
                end = self.run(argv, stdin, limit, deadline, kill_after)
            except NotStarted as exc:
                end = self.not_started(argv[0], exc.error, limit)
            self.outbuf += HEAD.pack(b"X", len(end)) + end
            self.flush()

    def queue(self, kind, data):
        # type: (bytes, bytes) -> None
        self.outbuf += HEAD.pack(kind, len(data)) + data
        if len(self.outbuf) >= CHUNK:
            self.flush()

    def flush(self):
        # type: () -> None
        if self.outbuf:
            write_all(self.outbuf)
            del self.outbuf[:]

    # one command

    def not_started(self, program, error, limit):
        # type: (bytes, OSError, int) -> bytes
        """The end of a command whose program could not be started, as `timeout` reports it."""
        message = b"%s: %s\n" % (program, (error.strerror or str(error)).encode())
        overflow = b"-"
        if len(message) > limit:
            overflow = b"stderr"
        else:
            self.queue(b"E", message)
        return b"%d - %s" % (127 if error.errno == errno.ENOENT else 126, overflow)

    def run(self, argv, stdin, limit, deadline, kill_after):
        # type: (List[bytes], Optional[bytes], int, int, int) -> bytes
        """Run one command to its end: b"<status> <signal> <overflow>".

        At `deadline` seconds (0: none) its process group gets TERM, KILL `kill_after`
        seconds later, and it reports status 124 (or its death by KILL), as under `timeout`.
        """
        self.proc = proc = Child(argv, self.env, stdin is not None, self.spawn)
        term_at = time.monotonic() + deadline if deadline else None
        timed_out = False
        kinds = {proc.stdout: b"O", proc.stderr: b"E"}
        counts = {b"O": 0, b"E": 0}
        for fd in kinds:
            set_nonblocking(fd)
        pending = memoryview(stdin or b"")
        in_fd = None  # type: Optional[int]
        if proc.stdin is not None:
            in_fd = proc.stdin
            set_nonblocking(in_fd)
            if not pending:
                proc.close_stdin()
                in_fd = None
        overflow = None  # type: Optional[bytes]
        kill_at = None  # type: Optional[float]
        killed = False
        while True:
            proc.poll()
            if proc.returncode is not None and (not kinds or killed):
                break
            readers = list(kinds) + [self.wake_r]
            if not self.closed_input:
                readers.append(0)
            writers = [in_fd] if in_fd is not None else []
            timers = [at for at in (kill_at, term_at) if at is not None]
            wait = max(0.0, min(timers) - time.monotonic()) if timers else None
            ready_r, ready_w, _ = select.select(readers, writers, [], wait)
            stop = False
            for fd in ready_r:
                if fd == self.wake_r:
                    self.drain_wakeups()
                elif fd == 0:
                    self.read_input()
                    frame = self.next_frame()
                    while frame is not None:
                        if frame[0] != b"K":
                            raise Stop()
                        stop = True
                        frame = self.next_frame()
                    if self.closed_input:
                        stop = True
                else:
                    data = os.read(fd, CHUNK)
                    kind = kinds[fd]
                    if not data:
                        del kinds[fd]
                        os.close(fd)
                        continue
                    if overflow is not None:
                        continue
                    counts[kind] += len(data)
                    if counts[kind] > limit:
                        overflow = b"stdout" if kind == b"O" else b"stderr"
                        stop = True
                    else:
                        self.queue(kind, data)
            if in_fd is not None and in_fd in ready_w:
                try:
                    n = os.write(in_fd, pending[:CHUNK])
                    pending = pending[n:]
                except OSError:  # EPIPE: the command does not read its stdin
                    pending = pending[:0]
                if not pending:
                    proc.close_stdin()
                    in_fd = None
            if stop and kill_at is None and not killed:
                self.signal_group(signal.SIGTERM)
                kill_at, term_at = time.monotonic() + GRACE, None
            if term_at is not None and time.monotonic() >= term_at:
                # The deadline: as `timeout`, even if only the group outlives the command.
                timed_out = proc.poll() is None
                self.signal_group(signal.SIGTERM)
                kill_at, term_at = time.monotonic() + kill_after, None
            if kill_at is not None and time.monotonic() >= kill_at:
                self.signal_group(signal.SIGKILL)
                kill_at, killed = None, True
        for fd in kinds:
            os.close(fd)
        proc.close_stdin()
        self.proc = None
        if self.closed_input:
            raise Stop()
        code = proc.returncode
        if timed_out and code != -signal.SIGKILL:
            code = 124
        status = b"%d" % code if code >= 0 else b"-"
        name = b"-"
        if code < 0:
            try:
                name = signal.Signals(-code).name[3:].encode()
            except ValueError:
                name = b"%d" % -code
        return b" ".join([status, name, overflow or b"-"])

    def drain_wakeups(self):
        # type: () -> None
        try:
            while os.read(self.wake_r, 512):
                pass
        except OSError:
            pass

    def signal_group(self, signum):
        # type: (int) -> None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signum)
            except OSError:
                pass

    def stop_command(self):
        # type: () -> None
        """TERM the command in flight, KILL it after the grace (used when the runner ends)."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        self.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        self.signal_group(signal.SIGKILL)
        deadline = time.monotonic() + GRACE
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)


def main(marker):
    # type: (str) -> None
    def ending(signum, frame):
        # type: (int, Any) -> None
        raise Stop()

    signal.signal(signal.SIGTERM, ending)
    signal.signal(signal.SIGHUP, ending)
    os.set_blocking(1, True)
    runner = Runner()
    try:
        write_all(b"\nF7TRUNNER " + marker.encode() + b"\n")
        runner.serve()
    except (Stop, OSError, KeyboardInterrupt):
        pass
    finally:
        runner.stop_command()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
