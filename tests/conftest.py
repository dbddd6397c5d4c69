"""Shared fixtures: the local testbed (sshd, Slurm, S3), brought up once per run."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import subprocess
from collections.abc import Iterator

import attrs
import pytest

from f7tproxy.config import LoggingConfig
from f7tproxy.observability import configure_logging

REPO = pathlib.Path(__file__).resolve().parent.parent
TESTBED_SCRIPTS = REPO / "tests" / "testbed"


@pytest.fixture
def log_files(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, pathlib.Path]]:
    """The access and audit logs written to files under tmp_path (access, audit)."""
    access, audit_file = tmp_path / "logs" / "access.jsonl", tmp_path / "logs" / "audit.jsonl"
    configure_logging(LoggingConfig(access_log=access, audit_log=audit_file))
    yield access, audit_file
    for name in ("f7tproxy.access", "f7tproxy.audit"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()
        logger.propagate = True


def lines(path: pathlib.Path) -> list[dict[str, object]]:
    """The JSON lines of a log file."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def ssh_runner_setting() -> dict[str, str]:
    """`ssh.runner` for the gateways and pools the tests start: F7T_TEST_SSH_RUNNER if it is set,
    else nothing (the product's default, auto). scripts/test runs the whole suite with the default,
    then the API, file system, fault and SSH testbed tests again with F7T_TEST_SSH_RUNNER=off."""
    mode = os.environ.get("F7T_TEST_SSH_RUNNER", "")
    return {"runner": mode} if mode else {}


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
