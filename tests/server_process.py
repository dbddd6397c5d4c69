"""Run a real `f7tproxy serve` subprocess for tests, and find the URL it serves on."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
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
        self._ready = threading.Event()
        self._reader: threading.Thread | None = None

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            [*self.command, "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**self.env, "PYTHONUNBUFFERED": "1"}, cwd=self.cwd,
        )
        # Read everything the server prints, all the time: a server whose log pipe
        # is not drained would block on its next write.
        self._reader = threading.Thread(target=self._read, name="server-output", daemon=True)
        self._reader.start()
        if not self._ready.wait(self.start_timeout) or not self.url:
            self.stop(signal.SIGKILL)
            raise RuntimeError("f7tproxy did not start:\n" + "".join(self.output))
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.proc.stdout:
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace")
                self.output.append(line)
                if not self.url and (m := _READY.search(line)):
                    self.url = m.group(1)
                    self._ready.set()
        self._ready.set()  # the server exited: stop waiting for it

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send `signum`, wait at most `timeout` seconds, and return the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise
        finally:
            if self._reader is not None:
                self._reader.join(timeout=10)
        return self.proc.returncode

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                pass
