"""The testbed the integration tests stand on answers as its contract says."""

from __future__ import annotations

import pytest

from .conftest import Testbed, _read_env

pytestmark = pytest.mark.testbed


def test_users_log_in_with_their_static_keys(testbed: Testbed) -> None:
    for user in ("fireuser", "firesrv", "fireuser2"):
        done = testbed.ssh(user, "id", "-un")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == user


def test_slurm_accounting_answers_over_ssh(testbed: Testbed) -> None:
    done = testbed.ssh("fireuser", "sacctmgr", "-nP", "show", "assoc", "user=fireuser", "format=account")
    assert done.returncode == 0, done.stderr
    assert {"proj1", "proj2"} <= set(done.stdout.split())


def test_users_cannot_read_each_others_homes(testbed: Testbed) -> None:
    done = testbed.ssh("fireuser2", "ls", "/home/fireuser")
    assert done.returncode != 0
    assert "Permission denied" in done.stderr


def test_key_material_is_where_the_configs_expect_it(testbed: Testbed) -> None:
    assert testbed.known_hosts.read_text().startswith("[127.0.0.1]:2222 ")
    assert testbed.user_ca.stat().st_mode & 0o077 == 0
    assert testbed.env["F7T_S3_URL"] == "http://127.0.0.1:9000"


def test_the_replicas_redis_and_balancer_answer(testbed: Testbed) -> None:
    import socket
    import urllib.error
    import urllib.request

    testbed.ctl("up", "redis", "lb")  # (started by this checkout's scripts if an older one ran `up`)
    env = _read_env(testbed.dir / "testbed.env")
    with socket.create_connection(("127.0.0.1", 6380), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(16) == b"+PONG\r\n"
    assert env["F7T_REDIS_URL"] == "redis://127.0.0.1:6380/0"
    # HAProxy answers on 8080 even with no replica behind it (then 503)
    try:
        status = urllib.request.urlopen(env["F7T_LB_URL"] + "/status/liveness/", timeout=10).status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status in (200, 503)
