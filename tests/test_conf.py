"""The shipped operator files: configs pass check-config, the systemd unit is sound and agrees with them."""

from __future__ import annotations

import configparser
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import conftest
from .conftest import REPO

CONF = REPO / "conf"
NEEDS_TESTBED = {"demo.yaml"}
SHIPPED = sorted(p for p in CONF.glob("*.yaml") if p.name not in NEEDS_TESTBED)
UNIT = CONF / "f7tproxy.service"


def site_files(where: pathlib.Path) -> None:
    """What an operator puts beside the config in /etc/f7tproxy/ (see conf/example.yaml)."""
    shutil.copy(REPO / "tests" / "config" / "good" / "known_hosts", where / "known_hosts")
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    (where / "user_ca").write_bytes(key)


def check_config(*paths: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "f7tproxy", "check-config", *map(str, paths)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_config_passes_check_config(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    shutil.copy(path, tmp_path / "f7tproxy.yaml")  # byte for byte, beside the site's files
    site_files(tmp_path)
    done = check_config(tmp_path / "f7tproxy.yaml")
    assert done.returncode == 0, done.stderr


def test_example_config_sets_every_operator_section() -> None:
    data = yaml.safe_load((CONF / "example.yaml").read_text())
    assert {"server", "auth", "clusters", "logging", "metrics", "rate_limit"} <= set(data)
    assert "demo_issuer" not in data["auth"]


@pytest.mark.testbed
def test_demo_config_passes_check_config(testbed: conftest.Testbed) -> None:
    done = check_config(CONF / "demo.yaml")
    assert done.returncode == 0, done.stderr


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_agrees_with_the_example_config() -> None:
    service = unit()["Service"]
    example = yaml.safe_load((CONF / "example.yaml").read_text())
    assert "--config /etc/f7tproxy/f7tproxy.yaml" in service["ExecStart"]
    assert service["ExecStart"].split()[:2] == ["/usr/bin/python3.11", "-I"]
    # the admin socket's directory is the unit's RuntimeDirectory, the log files its LogsDirectory
    assert pathlib.Path(example["server"]["admin_socket"]).parent == pathlib.Path("/run") / service["RuntimeDirectory"]
    for log in ("access_log", "audit_log"):
        assert pathlib.Path(example["logging"][log]).parent == pathlib.Path("/var/log") / service["LogsDirectory"]
    assert "SHIV_ROOT=/var/cache/" + service["CacheDirectory"] in UNIT.read_text()
    # systemd kills only after the server's own grace period has run out
    stop = int(re.fullmatch(r"(\d+)s?", service["TimeoutStopSec"]).group(1))  # type: ignore[union-attr]
    assert stop > example["server"]["shutdown_grace"] + 5


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_unit_is_valid_and_hardened() -> None:
    verify = subprocess.run(["systemd-analyze", "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0 and UNIT.name not in verify.stderr, verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(UNIT)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout + security.stderr)
    assert exposure is not None, security.stdout + security.stderr
    assert float(exposure.group(1)) <= 2.0
