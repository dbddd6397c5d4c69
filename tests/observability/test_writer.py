"""Log output never blocks the server: a stalled log pipe does not stop requests."""

from __future__ import annotations

import logging
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import threading

import httpx

from f7tproxy.observability import log_writer

GOOD = pathlib.Path(__file__).parent.parent / "config" / "good"


class _Stalled(logging.Handler):
    """A handler whose output is stuck until `unblock` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.unblock = threading.Event()
        self.written = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.unblock.wait(30)
        self.written += 1


def test_logging_returns_while_the_output_is_stalled() -> None:
    logger = logging.getLogger("f7tproxy.test-writer")
    stalled = _Stalled()
    logger.addHandler(stalled)
    logger.propagate = False
    try:
        with log_writer("f7tproxy.test-writer"):
            done = threading.Event()

            def log_a_lot() -> None:
                for n in range(20_000):
                    logger.warning("line %d", n)
                done.set()

            threading.Thread(target=log_a_lot, daemon=True).start()
            assert done.wait(20), "logging blocked on a stalled handler"
            stalled.unblock.set()
        # Leaving the block wrote what was queued; the rest was dropped, not waited for.
        assert 0 < stalled.written < 20_000
        assert logger.handlers == [stalled]
    finally:
        logger.removeHandler(stalled)
        logger.propagate = True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_whose_log_pipe_is_never_read_keeps_answering(tmp_path: pathlib.Path) -> None:
    shutil.copy(GOOD / "known_hosts", tmp_path / "known_hosts")
    shutil.copy(GOOD / "alice.key", tmp_path / "alice.key")
    port = _free_port()
    config = tmp_path / "f7tproxy.yaml"
    config.write_text(
        (GOOD / "minimal.yaml").read_text()
        + f"server:\n  port: {port}\n  shutdown_grace: 2\n  admin_socket: {tmp_path / 'admin.sock'}\n"
    )
    # stdout and stderr go to a pipe that this test never reads (64 KiB of buffer).
    proc = subprocess.Popen(
        [sys.executable, "-m", "f7tproxy", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(200):  # wait for the server to listen
                try:
                    client.get("/status/liveness/")
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.1)
            # ~1500 access-log lines of ~300 bytes each: far more than the pipe holds.
            statuses = {client.get("/status/liveness/").status_code for _ in range(1500)}
        assert statuses == {200}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.stdout is not None
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
