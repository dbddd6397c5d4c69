"""Fixtures for the auth tests: a real OpenID Connect provider and f7tproxy config files."""

from __future__ import annotations

import json
import os
import pathlib
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

IDP_DIR = pathlib.Path(__file__).parent / "idp"
GOOD = pathlib.Path(__file__).parent.parent / "config" / "good"
AUDIENCE = "f7tproxy"
IDP_CLIENTS = [
    {"client_id": "fireuser-client", "client_secret": "fireuser-secret", "username": "fireuser"},
    {"client_id": "firesrv-client", "client_secret": "firesrv-secret", "username": "firesrv",
     "auth_method": "client_secret_basic"},
]  # fmt: skip


def _install_idp() -> None:
    """`npm ci` oidc-provider into tests/auth/idp/node_modules (ignored by git), once."""
    if (IDP_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("the IdP tests need Node.js and npm (npm oidc-provider is the independent IdP)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=IDP_DIR, check=True, timeout=300, stdout=subprocess.DEVNULL,
    )


class Idp:
    """A running oidc-provider (`tests/auth/idp/idp.mjs`) on 127.0.0.1."""

    def __init__(self) -> None:
        config = {"audience": AUDIENCE, "clients": IDP_CLIENTS}
        self.proc = subprocess.Popen(
            ["node", "idp.mjs", json.dumps(config)],
            cwd=IDP_DIR, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.issuer = self._read_issuer(deadline=time.monotonic() + 30)

    def _read_issuer(self, deadline: float) -> str:
        assert self.proc.stdout is not None
        fd, buffer = self.proc.stdout.fileno(), b""
        while b"\n" not in buffer:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    self.stop()
                    raise RuntimeError("the IdP did not start")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the IdP exited at start")
            buffer += chunk
        return str(json.loads(buffer.split(b"\n")[0])["issuer"])

    def token(self, client_id: str = "fireuser-client") -> str:
        """A client-credentials access token from the IdP."""
        client = next(c for c in IDP_CLIENTS if c["client_id"] == client_id)
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "client_id": client_id,
                  "client_secret": client["client_secret"]},
            timeout=10,
        )  # fmt: skip
        response.raise_for_status()
        return str(response.json()["access_token"])

    def rotate(self) -> str:
        """Replace the IdP's signing key; returns the new kid."""
        response = httpx.post(f"{self.issuer}/__rotate", timeout=10)
        response.raise_for_status()
        return str(response.json()["kid"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a test may have left it stopped (SIGSTOP)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="session")
def idp_installed() -> None:
    _install_idp()


@pytest.fixture
def idp(idp_installed: None) -> Iterator[Idp]:
    """A fresh IdP for one test (tests rotate its keys and stop it)."""
    server = Idp()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def write_config(tmp_path: pathlib.Path) -> Callable[[dict[str, Any]], pathlib.Path]:
    """Write an f7tproxy config (port 0, one cluster never contacted) with the given auth section."""

    def write(auth: dict[str, Any], name: str = "f7tproxy.yaml") -> pathlib.Path:
        shutil.copy(GOOD / "known_hosts", tmp_path / "known_hosts")
        config = {
            "server": {"port": 0, "shutdown_grace": 2, "admin_socket": str(tmp_path / "admin.sock")},
            "auth": auth,
            "clusters": [
                {
                    "name": "cluster-slurm",
                    "ssh": {"host": "127.0.0.1", "port": 2222, "known_hosts": "known_hosts",
                            "credentials": {"mode": "static_keys"}},
                    "file_systems": [{"path": "/home", "data_type": "users", "default_work_dir": True}],
                }
            ],
        }  # fmt: skip
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        return path

    return write
