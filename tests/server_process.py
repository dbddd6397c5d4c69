"""Run a real `f7tproxy serve` subprocess for tests, and find the URL it serves on."""

from __future__ import annotations

import os
import pathlib
import re
import selectors
import signal
import subprocess
import sys
import time
from types import TracebackType

_READY = re.compile(r"f7tproxy serving on (http://\S+?)(,|$)")


class ServerProcess:
    """`python -m f7tproxy serve --config FILE`, started and stopped with deadlines.

    Use as a context manager; `url` is the base URL once the server is ready.
    Everything the server printed is kept in `output`. `command` replaces
    ``python -m f7tproxy`` (e.g. ``[python3, "-I", "f7tproxy.pyz"]``); `env` replaces
    the environment and `cwd` the working directory.
    """

    def __init__(
        self,
        config: pathlib.Path,
        *,
        start_timeout: float = 30.0,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: pathlib.Path | None = None,
    ) -> None:
        self.config = config
        self.start_timeout = start_timeout
        self.command = command or [sys.executable, "-m", "f7tproxy"]
        self.env = env if env is not None else dict(os.environ)
        self.cwd = cwd
        self.output: list[str] = []
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            [*self.command, "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**self.env, "PYTHONUNBUFFERED": "1"}, cwd=self.cwd,
        )
        deadline = time.monotonic() + self.start_timeout
        while not self.url:
            line = self._readline(deadline)
            if line is None:
                self.stop(signal.SIGKILL)
                raise RuntimeError("f7tproxy did not start:\n" + "".join(self.output))
            if m := _READY.search(line):
                self.url = m.group(1)
        return self

    def _readline(self, deadline: float) -> str | None:
        # Raw reads with our own buffer: a buffered readline() could swallow the
        # next line while select() then waits for data that already arrived.
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\n")
        line = raw.decode(errors="replace") + "\n"
        self.output.append(line)
        return line

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `signum`, wait at most `timeout` seconds, and return the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            rest, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate(timeout=10)
            self.output.append((self._buffer + (rest or b"")).decode(errors="replace"))
            raise
        self.output.append((self._buffer + (rest or b"")).decode(errors="replace"))
        self._buffer = b""
        return self.proc.returncode

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                pass
