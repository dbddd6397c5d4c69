"""The two replicas behind the testbed's HAProxy, started once per test module."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from ..conftest import Testbed
from ..conftest import _read_env as read_env
from .cluster import BOTH, Replicas


@pytest.fixture(scope="module")
def replicas(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    testbed.ctl("up", "redis", "lb")
    # its settings as this checkout's `up` writes them (a testbed.env written by an older
    # checkout's `up` lacks the redis and lb settings)
    testbed = Testbed(dir=testbed.dir, env=read_env(testbed.dir / "testbed.env"))
    ports = [int(p) for p in testbed.env["F7T_LB_REPLICA_PORTS"].split()]
    r = Replicas(testbed, pathlib.Path(tmp_path_factory.mktemp("replicas")), ports)
    try:
        r.start(0)
        r.start(1)
        r.wait_balanced(BOTH)
        yield r
    finally:
        r.close()
