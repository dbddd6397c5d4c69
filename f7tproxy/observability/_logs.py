"""The access and audit logs: JSON lines with a fixed schema.

    f7tproxy.access   one line per HTTP request (written by the API's middleware)
    f7tproxy.audit    one line per remote action (written by whoever runs it, via `audit`)

Both go to standard error unless `logging.access_log` / `logging.audit_log` name a
file (appended to, reopened when logrotate moves it). They never carry file
contents, tokens or keys: only the fields below, with commands cut to a bounded size.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import logging.handlers
import math
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

from ..config import LoggingConfig
from ._context import RequestInfo, current_request

access_log = logging.getLogger("f7tproxy.access")
audit_log = logging.getLogger("f7tproxy.audit")

_MAX_ARG = 256
_MAX_ARGS = 64


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for every line (`json.dumps` with options makes a new one per call)."""


def log_time(created: float) -> str:
    """`created` (Unix time) as ISO 8601 UTC to the millisecond, as
    ``iso_z(datetime.fromtimestamp(created, UTC), "milliseconds")`` writes it, with the
    date and time of day made once per second rather than once per line."""
    fraction, whole = math.modf(created)
    second, micros = int(whole), round(fraction * 1e6)  # datetime's rounding to the microsecond
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    return f"{_second_text(second)}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")


class JsonLines(logging.Formatter):
    """One JSON object per record: ``ts``, ``log`` and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": log_time(record.created),
                "log": record.name.rpartition(".")[2],
                **getattr(record, "fields", {"message": record.getMessage()})}  # fmt: skip
        return _ENCODER.encode(line)


def _handler(path: pathlib.Path | None) -> logging.Handler:
    if path is None:
        return logging.StreamHandler(sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.WatchedFileHandler(path, encoding="utf-8")


def configure_logging(config: LoggingConfig) -> None:
    """Send the access and audit logs to their configured places as JSON lines.

    The process log (everything else) keeps its text format on standard error.

    Raises:
        OSError: a configured log file cannot be opened.
    """
    for logger, path in ((access_log, config.access_log), (audit_log, config.audit_log)):
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        handler = _handler(path)
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def log_access(info: RequestInfo, *, status: int, duration: float) -> None:
    """Write the access-log line of a finished request."""
    fields = {
        "request_id": info.request_id,
        "correlation_id": info.correlation_id,
        "user": info.user,
        "system": info.system,
        "method": info.method,
        "endpoint": info.endpoint,
        "path": info.path,
        "status": status,
        "duration": round(duration, 6),
        "client": info.client,
    }
    _emit(access_log, f"{info.method} {info.path} {status}", fields)


def _bounded(command: Sequence[str] | str) -> list[str]:
    argv = [command] if isinstance(command, str) else list(command)
    cut = [a if len(a) <= _MAX_ARG else a[:_MAX_ARG] + "…" for a in argv[:_MAX_ARGS]]
    if len(argv) > _MAX_ARGS:
        cut.append(f"… ({len(argv) - _MAX_ARGS} more)")
    return cut


def audit(
    *,
    user: str,
    system: str,
    action: str,
    command: Sequence[str] | str,
    exit_status: int | None,
    duration: float,
    error: str | None = None,
) -> None:
    """Write the audit-log line of one remote action, once it has ended.

    Args:
        user: the user it ran as (the SSH login).
        system: the cluster.
        action: the program that ran (``sbatch``, ``squeue``, ``ls``...), named
            through the `env`, `timeout` and `bash -c` wrappers around it.
        command: the argument list that ran (before quoting). Never stdin, file
            contents or secrets: callers pass the argv only, and secrets never go
            into an argv (a job's environment values travel on stdin, only the
            variable names are arguments); each argument is cut to 256
            characters and the list to 64 arguments.
        exit_status: the remote exit status; None if it never ended normally.
        duration: seconds from start to end.
        error: why it did not end normally (``timeout``, ``cancelled``,
            ``channel_open_failed``...): a fixed word, not an exception text.

    The request and correlation ids are taken from the current request, if any
    (health probes and other background work have none).
    """
    info = current_request()
    if info is not None:
        info.commands += 1
    fields: dict[str, Any] = {
        "request_id": info.request_id if info else None,
        "correlation_id": info.correlation_id if info else None,
        "user": user,
        "system": system,
        "action": action,
        "command": _bounded(command),
        "exit_status": exit_status,
        "duration": round(duration, 6),
        "error": error,
    }
    _emit(audit_log, f"{user}@{system} {action} -> {exit_status}", fields)


def _emit(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """Log one line of `fields` at INFO, without `Logger.info`'s look for the caller's file and line
    (a walk up the stack on every request; JSON lines do not show it)."""
    if logger.isEnabledFor(logging.INFO):
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "(f7tproxy)", 0, message, (), None,
                                        extra={"fields": fields}))  # fmt: skip
