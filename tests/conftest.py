"""Shared fixtures: the local testbed (sshd, Slurm, S3), brought up once per run."""

from __future__ import annotations

import os
import pathlib
import subprocess

import attrs
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
TESTBED_SCRIPTS = REPO / "tests" / "testbed"


@attrs.frozen
class Testbed:
    """Where the running testbed keeps its keys and how to reach its parts."""

    __test__ = False  # a fixture value, not a test class

    dir: pathlib.Path
    env: dict[str, str]

    @property
    def known_hosts(self) -> pathlib.Path:
        return self.dir / "ssh" / "known_hosts"

    @property
    def user_ca(self) -> pathlib.Path:
        return self.dir / "ca" / "user_ca"

    def key(self, user: str) -> pathlib.Path:
        return self.dir / "keys" / user

    def ctl(self, action: str, *parts: str, timeout: float = 300) -> None:
        """Run tests/testbed/<action> (up, down, status) for some parts."""
        subprocess.run([str(TESTBED_SCRIPTS / action), *parts], check=True, timeout=timeout)

    def ssh(self, user: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command as `user` through the testbed's sshd."""
        return subprocess.run(
            [str(TESTBED_SCRIPTS / "ssh-as"), user, *command],
            capture_output=True, text=True, timeout=timeout,
        )


def _read_env(path: pathlib.Path) -> dict[str, str]:
    out = subprocess.run(
        ["bash", "-c", 'set -a; source "$1"; env -0', "-", str(path)],
        capture_output=True, check=True, timeout=30,
    ).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    """The running testbed; started (idempotently) if it is not up yet."""
    state = pathlib.Path(os.environ.get("F7T_TESTBED_DIR", "/var/lib/f7tproxy-testbed"))
    status = subprocess.run([str(TESTBED_SCRIPTS / "status")], capture_output=True, timeout=60)
    if status.returncode != 0:
        subprocess.run([str(TESTBED_SCRIPTS / "up")], check=True, timeout=900)
    return Testbed(dir=state, env=_read_env(state / "testbed.env"))
