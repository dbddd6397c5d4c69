"""Shared fixtures: the local testbed (sshd, Slurm, S3), brought up once per run."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import pwd
import subprocess
import time
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


TESTBED_USERS = ("fireuser", "fireuser2", "firesrv")
"""The testbed's users (tests/testbed/lib.sh `TB_USERS`)."""

JOB_OUTPUT_FILES = ("slurm-*.out", "f7t-*.out", ".f7t_file_handling_job_*.log", ".f7t_file_handling_job_error_*.log")
"""What the tests' jobs leave in a user's home: Slurm's default output, the tests' own
`f7t-*` outputs and the transfer jobs' logs (FirecREST's names)."""


@pytest.fixture(scope="session")
def testbed() -> Iterator[Testbed]:
    """The running testbed; started (idempotently) if it is not up yet.

    At the end of the session, the job outputs written in the testbed users' homes since it
    began are removed, so that a testbed kept up between runs does not fill with them.
    """
    state = pathlib.Path(os.environ.get("F7T_TESTBED_DIR", "/var/lib/f7tproxy-testbed"))
    status = subprocess.run([str(TESTBED_SCRIPTS / "status")], capture_output=True, timeout=60)
    if status.returncode != 0:
        subprocess.run([str(TESTBED_SCRIPTS / "up")], check=True, timeout=900)
    began = time.time() - 1
    bed = Testbed(dir=state, env=_read_env(state / "testbed.env"))
    yield bed
    _wait_for_no_jobs(bed, timeout=20)
    _remove_job_outputs(since=began)


def _wait_for_no_jobs(bed: Testbed, *, timeout: float) -> None:
    """Wait, at most `timeout` seconds, until the testbed users have no job queued or running
    (a job cancelled at the end of a test may still be ending, and write its output then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue = subprocess.run(
            ["squeue", "--noheader", "--user", ",".join(TESTBED_USERS), "--format", "%i"],
            capture_output=True, text=True, timeout=30, env={**os.environ, **bed.env},
        )  # fmt: skip
        if queue.returncode != 0 or not queue.stdout.strip():
            return
        time.sleep(0.5)


def _remove_job_outputs(*, since: float) -> None:
    for user in TESTBED_USERS:
        try:
            home = pathlib.Path(pwd.getpwnam(user).pw_dir)
        except KeyError:
            continue
        for pattern in JOB_OUTPUT_FILES:
            for path in home.glob(pattern):
                try:
                    if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= since:
                        path.unlink()
                except OSError:  # gone meanwhile, or not ours to remove: leave it
                    pass
