"""A real `f7tproxy serve` against the testbed cluster, with the demo token issuer, for API tests."""

from __future__ import annotations

import pathlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import yaml
from firecrest import ClientCredentialsAuth
from firecrest.v2 import Firecrest

from .conftest import TESTBED_USERS, Testbed, ssh_runner_setting
from .contract.spec import HOOKS
from .server_process import ServerProcess

SYSTEM = "cluster-slurm"


def gateway_config(testbed: Testbed, **cluster: Any) -> dict[str, Any]:
    """An f7tproxy config serving the testbed as `cluster-slurm`; `cluster` overrides cluster keys."""
    env = testbed.env
    base: dict[str, Any] = {
        "name": SYSTEM,
        "ssh": {
            "host": env.get("F7T_SSH_HOST", "127.0.0.1"),
            "port": int(env.get("F7T_SSH_PORT", "2222")),
            "known_hosts": str(testbed.known_hosts),
            "credentials": {"mode": "ssh_ca", "ca_key": {"file": str(testbed.user_ca)}},
            "pool": {"sessions_per_connection": 9, "max_connections_per_user": 4, "command_timeout": 30},
            # CI runs the API, file system, SSH and fault tests in both modes (scripts/test).
            **ssh_runner_setting(),
        },
        "service_account": "firesrv",
        "file_systems": [
            {"path": "/home", "data_type": "users", "default_work_dir": True},
            {"path": "/scratch", "data_type": "scratch"},
        ],
        "staging": {
            "private_url": env["F7T_S3_URL"],
            "public_url": env["F7T_S3_URL"],
            "access_key_id": env["F7T_S3_ACCESS_KEY"],
            "secret_access_key": env["F7T_S3_SECRET_KEY"],
            "region": env.get("F7T_S3_REGION", "us-east-1"),
            "max_part_size": 8 * 1024 * 1024,
            # Bounds how long an upload's staging job waits for a client that never completes.
            "url_ttl": 600,
        },
    }
    base.update(cluster)
    return {
        "server": {"port": 0, "shutdown_grace": 2, "admin_socket": "admin.sock"},
        "auth": {
            "audiences": ["f7tproxy"],
            "demo_issuer": {
                "enabled": True,
                "clients": [{"client_id": f"{u}-client", "secret": f"{u}-secret", "username": u} for u in TESTBED_USERS],
            },
        },
        "clusters": [base],
    }


@attrs.define
class Gateway:
    """A running gateway: its URL, tokens per user, and clients."""

    url: str
    process: ServerProcess
    _tokens: dict[str, str] = attrs.Factory(dict)

    def token(self, user: str = "fireuser") -> str:
        if user not in self._tokens:
            r = httpx.post(
                f"{self.url}/auth/token",
                data={"grant_type": "client_credentials", "client_id": f"{user}-client",
                      "client_secret": f"{user}-secret"},
                timeout=10,
            )  # fmt: skip
            r.raise_for_status()
            self._tokens[user] = r.json()["access_token"]
        return self._tokens[user]

    def http(self, user: str = "fireuser") -> httpx.Client:
        """An httpx client with `user`'s bearer token (request-level tests); it checks every answer
        against FirecREST's document (`tests/contract/spec.py`)."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token(user)}"}, timeout=60,
            event_hooks=HOOKS,  # every answer checked against FirecREST's document
        )

    def firecrest(self, user: str = "fireuser") -> Firecrest:
        """pyfirecrest's v2 client, unchanged, getting its own tokens from the demo issuer."""
        auth = ClientCredentialsAuth(f"{user}-client", f"{user}-secret", f"{self.url}/auth/token")
        return Firecrest(firecrest_url=self.url, authorization=auth)


def run_gateway(tmp: pathlib.Path, testbed: Testbed, **cluster: Any) -> Iterator[Gateway]:
    """Start the gateway with `gateway_config`, yield it, stop it."""
    config = tmp / "f7tproxy.yaml"
    config.write_text(yaml.safe_dump(gateway_config(testbed, **cluster)))
    with ServerProcess(config) as process:
        yield Gateway(url=process.url, process=process)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def remote(testbed: Testbed, script: str, user: str = "fireuser", *, check: bool = True) -> str:
    """Run `script` as `user` on the testbed over plain ssh; retried (bounded) while sshd is away.

    Other engineers' health tests stop the shared sshd for a moment now and then.
    """
    deadline = time.monotonic() + 60
    while True:
        done = testbed.ssh(user, script)
        if done.returncode != 255 or time.monotonic() > deadline:
            break
        time.sleep(1)
    if check:
        assert done.returncode == 0, done.stderr
    return done.stdout


def scratch(testbed: Testbed, user: str = "fireuser", prefix: str = "t") -> Iterator[str]:
    """A fresh directory of `user`'s in /scratch/<user> (0700 parent), removed afterwards (fixture body)."""
    path = f"/scratch/{user}/{unique(prefix)}"
    remote(testbed, f"mkdir -p {path}", user)
    yield path
    remote(testbed, f"chmod -R u+rwx {path}; rm -rf {path}", user, check=False)
