"""A real `f7tproxy serve` with the demo token issuer and the testbed's Slurm cluster."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

from ..conftest import Testbed, ssh_runner_setting
from ..contract.spec import HOOKS
from ..server_process import ServerProcess

SYSTEM = "cluster-slurm"
USERS = ("fireuser", "firesrv", "fireuser2")


def server_config(testbed: Testbed, tmp: pathlib.Path) -> dict[str, Any]:
    return {
        "server": {"bind": "127.0.0.1", "port": 0, "shutdown_grace": 5, "admin_socket": str(tmp / "admin.sock")},
        "auth": {
            "audiences": ["f7tproxy"],
            "demo_issuer": {
                "enabled": True,
                "clients": [{"client_id": f"{u}-client", "secret": f"{u}-secret", "username": u} for u in USERS],
            },
        },
        "clusters": [
            {
                "name": SYSTEM,
                "ssh": {
                    "host": "127.0.0.1",
                    "port": int(testbed.env.get("F7T_SSH_PORT", "2222")),
                    "known_hosts": str(testbed.known_hosts),
                    "credentials": {"mode": "ssh_ca", "ca_key": {"file": str(testbed.user_ca)}},
                    "pool": {"lease_timeout": 20, "command_timeout": 60},
                    **ssh_runner_setting(),
                },
                "scheduler": {"type": "slurm", "timeout": 30},
                "file_systems": [{"path": "/home", "data_type": "users", "default_work_dir": True}],
            }
        ],
    }


@pytest.fixture(scope="session")
def server(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("api")
    path = tmp / "f7tproxy.yaml"
    path.write_text(yaml.safe_dump(server_config(testbed, tmp)))
    with ServerProcess(path) as running:
        yield running


def token(server: ServerProcess, user: str = "fireuser") -> str:
    answer = httpx.post(
        f"{server.url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": f"{user}-client", "client_secret": f"{user}-secret"},
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.fixture(scope="session")
def api(server: ServerProcess) -> Callable[..., httpx.Client]:
    """`api(user)`: an httpx client for `user` (bearer token from the demo issuer)."""
    clients: list[httpx.Client] = []

    def make(user: str = "fireuser") -> httpx.Client:
        client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token(server, user)}"}, timeout=60,
            event_hooks=HOOKS,  # every answer checked against FirecREST's document
        )
        clients.append(client)
        return client

    yield make  # type: ignore[misc]
    for c in clients:
        c.close()


def home(user: str = "fireuser") -> str:
    return str(pathlib.PurePosixPath("/home") / user)
