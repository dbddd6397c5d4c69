"""Log output off the event loop.

A log handler writes synchronously: to a pipe nobody reads fast enough (a slow
journal, a stalled terminal, a supervisor that stopped reading) a write blocks,
and in a trio process a blocked write stops every request. `log_writer()` moves
every handler of the process's loggers behind a bounded queue drained by its own
thread; when the queue is full, records are dropped and counted rather than
blocking the server.

The thread writes in batches: woken by a record, it lingers a few milliseconds, then
takes everything queued at once and writes it with one flush (and, for a log file, one
check that logrotate has not moved it), so that it wakes (and takes the interpreter from
the request loop) at most a couple of hundred times a second, not once per request.
Handing a record over costs the request loop one deque append; it wakes the thread only
when the thread waits. A line so reaches its file within a few milliseconds.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import logging.handlers
import sys
import threading
import time
from collections.abc import Iterator

_QUEUE_SIZE = 10_000
"""Records waiting to be written at most; more are dropped (and counted)."""

_BATCH = 1_000
"""Records written per batch at most (with one flush)."""

_LINGER = 0.005
"""Seconds the thread waits, once woken, before it takes the batch (letting it grow)."""

_STOP_TIMEOUT = 10.0
"""At exit, how long to wait for the writer thread to write what is queued (the output may be stuck)."""

_BATCHED_HANDLERS = (logging.StreamHandler, logging.FileHandler, logging.handlers.WatchedFileHandler)
"""Handler classes whose records the thread writes itself, in batches (their `emit` is known);
any other handler gets its records one by one through its own `handle`."""


class _Deferred(logging.handlers.QueueHandler):
    """Hands records to a thread that writes them with the handler it replaced."""

    def __init__(self, target: logging.Handler) -> None:
        self._pending: collections.deque[logging.LogRecord] = collections.deque()
        super().__init__(self._pending)  # type: ignore[arg-type]  # only `enqueue` below uses it
        self.target = target
        self.dropped = 0
        self.setLevel(target.level)
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # QueueHandler formats and copies every record on the caller's thread (for queues to other
        # processes). The JSON lines' `fields` are made fresh for each record and never changed:
        # those go as they are, to be formatted by the writer thread.
        if hasattr(record, "fields"):
            return record
        prepared: logging.LogRecord = super().prepare(record)
        return prepared

    def enqueue(self, record: logging.LogRecord) -> None:
        if len(self._pending) >= _QUEUE_SIZE:
            self.dropped += 1
            return
        self._pending.append(record)  # deque appends are atomic: no lock on the request loop
        if not self._wake.is_set():
            self._wake.set()

    # -- the writer thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="f7tproxy-log-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, unless the output stays stuck past `_STOP_TIMEOUT`."""
        if self._thread is None:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(_STOP_TIMEOUT)  # a daemon: if stuck, it ends with the process
        self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if not self._stopping:
                time.sleep(_LINGER)  # let the batch grow: one wake-up per burst, not per line
            self._wake.clear()
            batch = self._take()
            if batch:
                self._write(batch)
            if self._stopping and not self._pending:
                return

    def _take(self) -> list[logging.LogRecord]:
        batch: list[logging.LogRecord] = []
        with contextlib.suppress(IndexError):
            while len(batch) < _BATCH:
                batch.append(self._pending.popleft())
        if self._pending:
            self._wake.set()  # more than a batch was queued: go on at once
        return batch

    def _write(self, batch: list[logging.LogRecord]) -> None:
        target = self.target
        if type(target) not in _BATCHED_HANDLERS or getattr(target, "stream", None) is None:
            for record in batch:
                if record.levelno >= target.level:
                    target.handle(record)
            return
        assert isinstance(target, logging.StreamHandler)
        with target.lock or contextlib.nullcontext():
            if isinstance(target, logging.handlers.WatchedFileHandler):
                target.reopenIfNeeded()
            lines = []
            for record in batch:
                if record.levelno < target.level or not target.filter(record):
                    continue
                try:
                    lines.append(target.format(record) + target.terminator)
                except Exception:  # noqa: BLE001  (as logging's own emit: a bad record is reported, not raised)
                    target.handleError(record)
            try:
                target.stream.write("".join(lines))
                target.flush()
            except OSError:
                target.handleError(batch[-1])


@contextlib.contextmanager
def log_writer(*names: str) -> Iterator[None]:
    """Within the block, the handlers of the root logger and of `names` write from a thread.

    On leaving, the queues are drained (what was logged is written) and the
    original handlers are put back.
    """
    loggers = [logging.getLogger(), *map(logging.getLogger, names)]
    swapped: list[tuple[logging.Logger, logging.Handler, _Deferred]] = []
    for logger in loggers:
        for handler in list(logger.handlers):
            deferred = _Deferred(handler)
            logger.removeHandler(handler)
            logger.addHandler(deferred)
            deferred.start()
            swapped.append((logger, handler, deferred))
    try:
        yield
    finally:
        for logger, handler, deferred in swapped:
            deferred.stop()  # writes what is still queued
            logger.removeHandler(deferred)
            logger.addHandler(handler)
            if deferred.dropped:
                print(f"f7tproxy: {deferred.dropped} log records were dropped (output too slow)", file=sys.stderr)
