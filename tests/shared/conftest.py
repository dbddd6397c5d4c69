"""A private redis-server on a free loopback port for the shared-state tests (not the
testbed's: these tests stop and freeze their Redis, which must not disturb others)."""

from __future__ import annotations

import gc
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator

import attrs
import pytest

from f7tproxy.config import RedisConfig
from f7tproxy.observability import Metrics
from f7tproxy.shared import SharedStore

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.define
class Redis:
    """A redis-server child process: stop, start and freeze it."""

    port: int
    dir: pathlib.Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 10 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def freeze(self, frozen: bool = True) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung server)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP if frozen else signal.SIGCONT)


@pytest.fixture(autouse=True)
def _collect_coredis_leftovers() -> Iterator[None]:
    """coredis (6.9) drops the anyio streams of a connection that failed to open without
    closing them; they are freed (with a ResourceWarning from their __del__), nothing
    accumulates. Collect them here, under this test's filters, so that the warnings do not
    surface in whichever test the garbage collector happens to run next."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Unclosed <MemoryObject", ResourceWarning)
        yield
        gc.collect()


@pytest.fixture
def redis(tmp_path: pathlib.Path) -> Iterator[Redis]:
    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.fail("redis-server is missing: tests/testbed/up installs it (package redis-server)")
    server = Redis(_free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def store(url: str, *, timeout: float = 0.25, prefix: str = "t:") -> SharedStore:
    return SharedStore(RedisConfig(url=url, timeout=timeout, key_prefix=prefix), Metrics())
