"""Rate limits seen by the official client: a real server, real tokens, pyfirecrest waits out a 429."""

from __future__ import annotations

import json
import pathlib
import shutil
import time
from collections.abc import Iterator

import httpx
import pytest
import yaml
from firecrest import ClientCredentialsAuth
from firecrest.v2 import Firecrest

from ..server_process import ServerProcess

GOOD = pathlib.Path(__file__).parent.parent / "config" / "good"


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[ServerProcess]:
    shutil.copy(GOOD / "known_hosts", tmp_path / "known_hosts")
    config = {
        "server": {"port": 0, "shutdown_grace": 2, "admin_socket": str(tmp_path / "admin.sock")},
        "auth": {
            "audiences": ["f7tproxy"],
            "demo_issuer": {"enabled": True, "clients": [
                {"client_id": "fireuser-client", "secret": "fireuser-secret", "username": "fireuser"},
                {"client_id": "firesrv-client", "secret": "firesrv-secret", "username": "firesrv"},
            ]},
        },
        "clusters": [{
            "name": "cluster-slurm",
            "ssh": {"host": "127.0.0.1", "port": 2222, "known_hosts": "known_hosts",
                    "credentials": {"mode": "static_keys"}},
        }],
        "rate_limit": {"per_user": {"rate": 1, "burst": 2}},
    }  # fmt: skip
    path = tmp_path / "f7tproxy.yaml"
    path.write_text(yaml.safe_dump(config))
    with ServerProcess(path) as running:
        yield running


def client(url: str, who: str) -> Firecrest:
    auth = ClientCredentialsAuth(f"{who}-client", f"{who}-secret", f"{url}/auth/token")
    return Firecrest(firecrest_url=url, authorization=auth)


def test_pyfirecrest_waits_out_a_429_and_succeeds(server: ServerProcess) -> None:
    fireuser = client(server.url, "fireuser")
    try:
        started = time.monotonic()
        for _ in range(3):  # the third is refused once, then retried after Retry-After
            assert [s["name"] for s in fireuser.systems()] == ["cluster-slurm"]
        assert time.monotonic() - started >= 0.9
        # another user has a bucket of their own
        firesrv = client(server.url, "firesrv")
        assert firesrv.systems()
        firesrv.close_session()
    finally:
        fireuser.close_session()
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'f7tproxy_rate_limited_total{scope="user"} 1.0' in metrics
    assert 'f7tproxy_http_requests_total{endpoint="/status/systems",method="GET",status="429"} 1.0' in metrics
    assert 'f7tproxy_http_requests_total{endpoint="/status/systems",method="GET",status="200"} 4.0' in metrics

    server.stop()
    access = [json.loads(line) for line in "".join(server.output).splitlines() if line.startswith('{"ts"')]
    systems = [a for a in access if a["endpoint"] == "/status/systems"]
    assert [(a["user"], a["status"]) for a in systems] == [
        ("fireuser", 200), ("fireuser", 200), ("fireuser", 429), ("fireuser", 200), ("firesrv", 200),
    ]
    # pyfirecrest's ids came through: one correlation id per call, a fresh request id per request
    refused, retried = systems[2], systems[3]
    assert refused["correlation_id"] == retried["correlation_id"] is not None
    assert refused["request_id"] != retried["request_id"]
