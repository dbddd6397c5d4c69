"""Host keys are trusted from the configured known_hosts only, never from the service user's ~/.ssh."""

from __future__ import annotations

import pathlib

import asyncssh  # to check what asyncssh makes of our options
import pytest
import trio

from f7tproxy.errors import HostKeyMismatch
from f7tproxy.ssh import PoolSupervisor
from f7tproxy._aio import generate_user_key, private_key_text, public_key_text
from f7tproxy._aio._ssh import _client_options

from ..conftest import Testbed
from .conftest import TESTBED_SYSTEM
from .conftest import testbed_cluster as cluster_of  # not a test itself


def hostile_home(home: pathlib.Path, trusted_known_hosts: str) -> None:
    """A home whose ~/.ssh would trust the testbed's host key and bring keys, config and X.509 CAs."""
    ssh = home / ".ssh"
    (ssh / "crt").mkdir(parents=True)
    (ssh / "known_hosts").write_text(trusted_known_hosts)
    (ssh / "config").write_text(f"Host *\n  UserKnownHostsFile {ssh / 'known_hosts'}\n  IdentityAgent /nonexistent\n")
    (ssh / "ca-bundle.crt").write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    key = generate_user_key()
    (ssh / "id_ed25519").write_text(private_key_text(key))
    (ssh / "id_ed25519.pub").write_text(public_key_text(key))


def test_connect_options_leave_nothing_to_the_home_directory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile_home(tmp_path, "")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))
    key = generate_user_key()
    options = _client_options("u", key, None, tmp_path / "configured_known_hosts")
    assert options["x509_trusted_certs"] is None and not options["x509_trusted_cert_paths"]
    assert options["config"] is None and options["agent_path"] is None and options["agent_identities"] is None
    assert options["known_hosts"] == str(tmp_path / "configured_known_hosts")
    # What asyncssh makes of them, with that home: our key only, no X.509 trust, no agent, no config.
    made = asyncssh.SSHClientConnectionOptions(**options)
    assert made.x509_trusted_certs is None and not made.x509_trusted_cert_paths
    assert [k.public_data for k in made.client_keys] == [key.public_data]
    assert not made.agent_path and made.agent_identities is None and made.pkcs11_provider is None
    assert made.known_hosts == str(tmp_path / "configured_known_hosts")


@pytest.mark.testbed
async def test_a_home_known_hosts_does_not_rescue_a_wrong_configured_one(
    testbed: Testbed, aio_nursery: trio.Nursery, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile_home(tmp_path, testbed.known_hosts.read_text())
    monkeypatch.setenv("HOME", str(tmp_path))
    wrong = PoolSupervisor([cluster_of(testbed, known_hosts="wrong_known_hosts")])
    await aio_nursery.start(wrong.run)
    with pytest.raises(HostKeyMismatch, match="did not match the configured known_hosts"):
        async with wrong.lease(TESTBED_SYSTEM, "fireuser"):
            pass  # pragma: no cover
    # With the right known_hosts the same home changes nothing either.
    right = PoolSupervisor([cluster_of(testbed)])
    await aio_nursery.start(right.run)
    async with right.lease(TESTBED_SYSTEM, "fireuser") as lease:
        assert (await lease.run(["id", "-un"])).stdout == "fireuser\n"
