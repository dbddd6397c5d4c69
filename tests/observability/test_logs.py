"""The access and audit logs: JSON lines with a fixed schema, never contents or secrets."""

from __future__ import annotations

import datetime
import json
import logging
import pathlib
import random
from collections.abc import Iterator

import pytest

from f7tproxy._iso import iso_z
from f7tproxy.config import LoggingConfig
from f7tproxy.observability import RequestInfo, audit, configure_logging, log_access
from f7tproxy.observability._context import enter_request, exit_request
from f7tproxy.observability._logs import log_time

from ..conftest import lines

AUDIT_KEYS = {"ts", "log", "request_id", "correlation_id", "user", "system", "action", "command",
              "exit_status", "duration", "error"}  # fmt: skip




def test_audit_line_inside_a_request_carries_its_ids(log_files: tuple[pathlib.Path, pathlib.Path]) -> None:
    _, audit_file = log_files
    info = RequestInfo(request_id="r-1", correlation_id="c-1", method="POST", path="/x", client=None)
    token = enter_request(info)
    try:
        audit(user="alice", system="a", action="submit", command=["sbatch", "--chdir=/home/alice", "--"],
              exit_status=0, duration=0.25)  # fmt: skip
    finally:
        exit_request(token)
    audit(user="firesrv", system="a", action="probe", command="sinfo", exit_status=None, duration=10.0, error="timeout")
    first, second = lines(audit_file)
    assert set(first) == AUDIT_KEYS and set(second) == AUDIT_KEYS
    assert first["log"] == "audit" and str(first["ts"]).endswith("Z")
    assert (first["request_id"], first["correlation_id"], first["exit_status"]) == ("r-1", "c-1", 0)
    assert first["command"] == ["sbatch", "--chdir=/home/alice", "--"]
    assert (second["request_id"], second["command"], second["error"]) == (None, ["sinfo"], "timeout")


def test_audit_cuts_long_commands(log_files: tuple[pathlib.Path, pathlib.Path]) -> None:
    _, audit_file = log_files
    audit(user="alice", system="a", action="ls", command=["x" * 10_000, *map(str, range(100))],
          exit_status=0, duration=0.0)  # fmt: skip
    [line] = lines(audit_file)
    command = line["command"]
    assert isinstance(command, list) and len(command) == 65 and len(command[0]) == 257
    assert command[-1] == "… (37 more)"
    assert len(audit_file.read_text()) < 4000


def test_access_line_schema(log_files: tuple[pathlib.Path, pathlib.Path]) -> None:
    access, _ = log_files
    info = RequestInfo(request_id="r-2", correlation_id=None, method="GET", path="/status/liveness/",
                       client="127.0.0.1", endpoint="/status/liveness/")  # fmt: skip
    log_access(info, status=200, duration=0.0015)
    [line] = lines(access)
    assert line == {
        "ts": line["ts"], "log": "access", "request_id": "r-2", "correlation_id": None, "user": None,
        "system": None, "method": "GET", "endpoint": "/status/liveness/", "path": "/status/liveness/",
        "status": 200, "duration": 0.0015, "client": "127.0.0.1",
    }  # fmt: skip


def test_log_time_is_the_datetime_formula_to_the_millisecond() -> None:
    rng = random.Random(7)
    edges = [0.0005, 1700000000.0, 1700000000.0004999, 1700000000.9994999, 1700000000.9995, 1700000000.9999996]
    for t in [*edges, *(rng.uniform(0, 4e9) for _ in range(20_000)), *(1.7e9 + k / 997 for k in range(5_000))]:
        assert log_time(t) == iso_z(datetime.datetime.fromtimestamp(t, datetime.UTC), "milliseconds"), t
