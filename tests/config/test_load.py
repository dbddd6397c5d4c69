"""Configuration loading: the good fixtures load, each bad fixture names its problem."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from f7tproxy import config
from f7tproxy.errors import ConfigError

HERE = pathlib.Path(__file__).parent
BAD = sorted((HERE / "bad").glob("*.yaml"))
REPO = HERE.parent.parent


def _expected(path: pathlib.Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path} must start with '# expect: <message>'"
    return first.removeprefix("# expect: ")


def test_minimal_config_takes_defaults() -> None:
    cfg = config.from_yaml(HERE / "good" / "minimal.yaml")
    [cluster] = cfg.clusters
    assert cluster.name == "tiny"
    assert cluster.ssh.port == 22
    assert cluster.ssh.pool.sessions_per_connection == 9
    assert cluster.ssh.known_hosts == HERE / "good" / "known_hosts"  # relative to the file
    creds = cluster.ssh.credentials
    assert isinstance(creds, config.StaticKeysCredentials)
    assert creds.keys["alice"].private_key.reveal().startswith("-----BEGIN OPENSSH")
    assert cfg.server.port == 8000
    assert cfg.auth.username_claims == ("preferred_username", "username")
    assert cfg.cluster("TINY") is cluster


def test_secrets_never_show_themselves() -> None:
    cfg = config.from_yaml(HERE / "good" / "minimal.yaml")
    text = repr(cfg) + str(cfg)
    assert "not-a-real-key" not in text
    assert "Secret(<file:" in text


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("F7T_TEST_TOKEN", "s3cr3t")
    cfg = config.from_mapping(
        {
            "auth": {
                "jwks_url": "https://idp.example.org/jwks",
                "openfga": {"url": "http://127.0.0.1:8080", "store_id": "01HVMMBCMGZNT3SED4Z17ECXCA", "api_token": {"env": "F7T_TEST_TOKEN"}},
            }
        }
    )
    assert cfg.auth.openfga is not None and cfg.auth.openfga.api_token is not None
    assert cfg.auth.openfga.api_token.reveal() == "s3cr3t"
    assert "s3cr3t" not in repr(cfg)


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(ConfigError) as info:
        config.from_mapping(
            {
                "auth": {"jwks_url": "https://idp.example.org/jwks", "leeway": "soon"},
                "server": {"port": "http", "bogus": 1},
            },
            source="multi.yaml",
        )
    assert sorted(info.value.problems) == [
        "multi.yaml: auth.leeway: expected float, got 'soon'",
        "multi.yaml: server.port: expected int, got 'http'",
        "multi.yaml: server: unknown key 'bogus'",
    ]


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_is_refused_with_file_and_key_path(path: pathlib.Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.from_yaml(path)
    assert any(line.startswith(f"{path}: {_expected(path)}") for line in info.value.problems), info.value.problems


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_check_config_command_exits_2(path: pathlib.Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "f7tproxy", "check-config", str(path)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 2
    assert f"{path}: {_expected(path)}" in done.stderr
    assert done.stdout == ""


def test_check_config_accepts_the_shipped_examples() -> None:
    good = [HERE / "good" / "minimal.yaml"]
    done = subprocess.run(
        [sys.executable, "-m", "f7tproxy", "check-config", *map(str, good)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": ok") == len(good)


def test_check_config_warns_when_iss_and_aud_are_not_checked(tmp_path: pathlib.Path) -> None:
    minimal = HERE / "good" / "minimal.yaml"
    checked = tmp_path / "checked.yaml"
    (tmp_path / "known_hosts").write_text((HERE / "good" / "known_hosts").read_text())
    (tmp_path / "alice.key").write_text((HERE / "good" / "alice.key").read_text())
    text = minimal.read_text().replace("  jwks_url: http://127.0.0.1:9/jwks\n",
                                       "  jwks_url: http://127.0.0.1:9/jwks\n  issuer: https://idp.test\n"
                                       "  audiences: [f7tproxy]\n")  # fmt: skip
    assert text != minimal.read_text()
    checked.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "f7tproxy", "check-config", str(minimal), str(checked)],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr  # valid, so still 0
    assert done.stdout == f"{minimal}: ok\n{checked}: ok\n"
    assert done.stderr.splitlines() == [
        f"{minimal}: warning: auth.issuer: not set, so `iss` is not checked: a token signed by any key of the "
        "JWKS is accepted, whichever issuer made it",
        f"{minimal}: warning: auth.audiences: empty, so `aud` is not checked: a token the IdP issued for any "
        "other service is accepted here too",
    ]


def test_no_warnings_for_the_demo_issuer() -> None:
    demo = config.from_mapping({"auth": {"demo_issuer": {"enabled": True, "clients": [
        {"client_id": "c", "secret": "s", "username": "alice"}]}}})  # fmt: skip
    assert config.warnings(demo) == []
