"""Log output off the event loop.

A log handler writes synchronously: to a pipe nobody reads fast enough (a slow
journal, a stalled terminal, a supervisor that stopped reading) a write blocks,
and in a trio process a blocked write stops every request. `log_writer()` moves
every handler of the process's loggers behind a bounded queue drained by its own
thread; when the queue is full, records are dropped and counted rather than
blocking the server.

The queue is a deque the thread empties every `_INTERVAL`: handing over a record
is an append, without waking the thread for each (a `queue.Queue` notifies a
condition per record: a futex wake and a GIL hand-over for every access and audit
line, a tenth of the event loop's time under load).
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
_INTERVAL = 0.05
"""Seconds the writer thread sleeps once it has written everything queued."""


_STOP_TIMEOUT = 10.0
"""At exit, how long to wait for the writer thread to write what is queued (the output may be stuck)."""


class _Deferred(logging.handlers.QueueHandler):
    """Hands records to a thread that writes them with the handler it replaced."""

    def __init__(self, target: logging.Handler) -> None:
        self.records: collections.deque[logging.LogRecord] = collections.deque()
        super().__init__(self.records)  # type: ignore[arg-type]  # (only `enqueue` below uses it)
        self.target = target
        self.dropped = 0
        self.setLevel(target.level)
        self._stopping = False
        self._thread = threading.Thread(target=self._write, name=f"log writer ({target!r})", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write what is queued, unless the output stays stuck past `_STOP_TIMEOUT`."""
        self._stopping = True
        self._thread.join(_STOP_TIMEOUT)  # if it is stuck: a daemon, it ends with the process

    def _write(self) -> None:
        records, target = self.records, self.target
        while True:
            while records:
                record = records.popleft()
                if record.levelno >= target.level:
                    target.handle(record)
            if self._stopping and not records:
                return
            time.sleep(_INTERVAL)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # QueueHandler formats and copies every record on the caller's thread (for queues to other
        # processes). The JSON lines' `fields` are made fresh for each record and never changed:
        # those go as they are, to be formatted by the writer thread.
        if hasattr(record, "fields"):
            return record
        prepared: logging.LogRecord = super().prepare(record)
        return prepared

    def enqueue(self, record: logging.LogRecord) -> None:
        if len(self.records) >= _QUEUE_SIZE:
            self.dropped += 1
        else:
            self.records.append(record)


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
