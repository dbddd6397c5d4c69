"""ssh_service credentials end to end: probes as the service account, a user's request, real sshd logins.

The key service is the in-suite one answering FirecREST's SSHService shape, signing
with the testbed's user CA; the service account's token comes from the independent
IdP (npm oidc-provider) by the client-credentials grant.
"""

from __future__ import annotations

import attrs
import pytest
import trio

from f7tproxy import config as config_mod
from f7tproxy._aio import import_private_key

from ..auth import tokens
from ..auth.conftest import Idp, idp, idp_installed  # noqa: F401  (fixtures)
from ..conftest import Testbed
from ..ssh.keyservice import KeyServiceStub, serve_key_service, token_user
from .inprocess import in_process
from .test_testbed import cluster_config

pytestmark = pytest.mark.testbed


def ssh_service_config(testbed: Testbed, key_service: str, token_url: str) -> config_mod.Config:
    """The health tests' testbed cluster (without staging), logging in through the key service."""
    base = cluster_config(testbed, interval=2)
    client = config_mod.ClientCredentials(token_url=token_url, client_id="firesrv-client",
                                          client_secret=config_mod.Secret("firesrv-secret"))  # fmt: skip
    credentials = config_mod.SshServiceCredentials(mode="ssh_service", url=key_service, service_account_client=client)
    cluster = base.clusters[0]
    cluster = attrs.evolve(cluster, ssh=attrs.evolve(cluster.ssh, credentials=credentials), staging=None)
    return attrs.evolve(base, clusters=(cluster,))


async def test_probes_and_requests_work_with_ssh_service_credentials(testbed: Testbed, idp: Idp) -> None:
    stub = KeyServiceStub(ca=import_private_key(testbed.user_ca.read_text()), check_token_user=True)
    async with serve_key_service(stub) as url:
        async with in_process(ssh_service_config(testbed, url, f"{idp.issuer}/token"), start_pool=True) as app:
            with trio.fail_after(60):
                while not (results := app.runtime.health.results("testbed")) or not all(
                    r.healthy for r in results
                ):
                    await trio.sleep(0.2)
            assert {r.label: r.healthy for r in results} == {
                "ssh": True, "scheduler": True, "filesystem /home": True, "filesystem /scratch": True}  # fmt: skip
            user_token = tokens.sign(tokens.claims(preferred_username="fireuser", sub="fireuser-id"))
            response = await app.client.open(
                "/filesystem/testbed/ops/ls", query_string={"path": "/home/fireuser"},
                headers={"Authorization": f"Bearer {user_token}"},
            )  # fmt: skip
            assert response.status_code == 200, await response.get_data()
            assert isinstance((await response.get_json())["output"], list)
    # The service account's certificate was asked with its own IdP token; the user's with the user's.
    asked = {(r["json"]["username"], token_user(r["headers"]["authorization"])) for r in stub.requests}
    assert asked == {("firesrv", "firesrv"), ("fireuser", "fireuser")}
    service_token = next(r["headers"]["authorization"] for r in stub.requests if r["json"]["username"] == "firesrv")
    assert service_token != f"Bearer {user_token}"
