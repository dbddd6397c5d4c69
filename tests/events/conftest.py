"""A real `f7tproxy serve` on the testbed, with its audit log in a file, for the event-stream tests."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ..conftest import Testbed
from ..gateway import SYSTEM, gateway_config
from ..api.conftest import token
from ..server_process import ServerProcess


def start(tmp: pathlib.Path, testbed: Testbed, **events: Any) -> ServerProcess:
    """A server (not yet entered) with `events` settings and its audit log at tmp/audit.jsonl."""
    config = gateway_config(testbed)
    config["events"] = {"interval": 1, "fast_interval": 0.5, "keepalive": 2, **events}
    config["logging"] = {"audit_log": str(tmp / "audit.jsonl"), "access_log": str(tmp / "access.jsonl")}
    config["server"]["admin_socket"] = str(tmp / "admin.sock")
    path = tmp / "f7tproxy.yaml"
    path.write_text(yaml.safe_dump(config))
    return ServerProcess(path)


@pytest.fixture(scope="module")
def server(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("events")
    with start(tmp, testbed, max_streams_per_user=250, fast_window=0) as running:
        yield running


def headers(server: ServerProcess, user: str = "fireuser") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(server, user)}"}


__all__ = ["SYSTEM", "headers", "start"]
