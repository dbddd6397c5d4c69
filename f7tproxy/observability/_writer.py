"""Log output off the event loop.

A log handler writes synchronously: to a pipe nobody reads fast enough (a slow
journal, a stalled terminal, a supervisor that stopped reading) a write blocks,
and in a trio process a blocked write stops every request. `log_writer()` moves
every handler of the process's loggers behind a bounded queue drained by its own
thread; when the queue is full, records are dropped and counted rather than
blocking the server.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
import sys
from collections.abc import Iterator

_QUEUE_SIZE = 10_000


_STOP_TIMEOUT = 10.0
"""At exit, how long to wait for the writer thread to take the end marker (the output may be stuck)."""


class _Listener(logging.handlers.QueueListener):
    def stop(self) -> None:
        """Write what is queued, unless the output stays stuck past `_STOP_TIMEOUT`."""
        if self._thread is None:
            return
        try:
            self.queue.put(self._sentinel, timeout=_STOP_TIMEOUT)  # type: ignore[attr-defined]
        except queue.Full:
            return  # the thread is a daemon: it ends with the process
        self._thread.join(_STOP_TIMEOUT)
        self._thread = None


class _Deferred(logging.handlers.QueueHandler):
    """Hands records to a thread that writes them with the handler it replaced."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(queue.Queue(_QUEUE_SIZE))
        self.target = target
        self.dropped = 0
        self.setLevel(target.level)
        self.listener = _Listener(self.queue, target, respect_handler_level=True)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # QueueHandler formats and copies every record on the caller's thread (for queues to other
        # processes). The JSON lines' `fields` are made fresh for each record and never changed:
        # those go as they are, to be formatted by the writer thread.
        if hasattr(record, "fields"):
            return record
        prepared: logging.LogRecord = super().prepare(record)
        return prepared

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


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
            deferred.listener.start()
            swapped.append((logger, handler, deferred))
    try:
        yield
    finally:
        for logger, handler, deferred in swapped:
            deferred.listener.stop()  # writes what is still queued
            logger.removeHandler(deferred)
            logger.addHandler(handler)
            if deferred.dropped:
                print(f"f7tproxy: {deferred.dropped} log records were dropped (output too slow)", file=sys.stderr)
