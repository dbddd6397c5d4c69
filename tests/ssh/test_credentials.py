"""The three credential modes, without an SSH server."""

from __future__ import annotations

import pathlib

import pytest
import trio

from f7tproxy.config import (
    ClientCredentials,
    Secret,
    SshCaCredentials,
    SshServiceCredentials,
    StaticKey,
    StaticKeysCredentials,
)
from f7tproxy.errors import Forbidden, InternalError, KeyServiceFailed
from f7tproxy.ssh import CaSigner, KeyService, StaticKeys
from f7tproxy._aio import (
    certificate_principals,
    certificate_validity,
    generate_user_key,
    private_key_text,
    public_key_text,
)

from ..auth.conftest import Idp, _install_idp
from .keyservice import KeyServiceStub, serve_key_service, token_user


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_ca_signs_a_short_lived_certificate_for_the_user() -> None:
    ca = generate_user_key()
    clock = Clock()
    signer = CaSigner(
        SshCaCredentials(mode="ssh_ca", ca_key=Secret(private_key_text(ca)), cert_ttl=600, renew_before=60),
        clock=clock,
    )
    login = await signer.login("alice", None)
    assert login.certificate is not None
    assert certificate_principals(login.certificate) == ("alice",)
    after, before = certificate_validity(login.certificate)
    assert before == clock.now + 600 and after <= clock.now
    assert login.valid_before == clock.now + 600
    # Reused while fresh, replaced when close to expiry.
    clock.now += 500
    assert await signer.login("alice", None) is login
    clock.now += 41
    renewed = await signer.login("alice", None)
    assert renewed is not login and renewed.key is not login.key
    assert (await signer.login("bob", None)).certificate is not None


def test_an_unreadable_ca_key_is_refused() -> None:
    with pytest.raises(ValueError):
        CaSigner(SshCaCredentials(mode="ssh_ca", ca_key=Secret("not a key")))


async def test_key_service_request_and_answer() -> None:
    stub = KeyServiceStub(ca=generate_user_key())
    async with serve_key_service(stub) as url:
        service = KeyService(SshServiceCredentials(mode="ssh_service", url=url + "/"))
        login = await service.login("alice", "the-jwt")
        assert await service.login("alice", "the-jwt") is login  # cached while fresh
    assert login.certificate is not None
    assert certificate_principals(login.certificate) == ("alice",)
    assert len(stub.requests) == 1
    request = stub.requests[0]
    assert (request["method"], request["path"]) == ("POST", "/api/v1/ssh-keys")
    assert request["headers"]["authorization"] == "Bearer the-jwt"
    assert request["json"] == {"duration": "1min", "username": "alice"}


@pytest.mark.parametrize(
    ("stub", "match"),
    [
        (KeyServiceStub(ca=generate_user_key(), status=403), "answered 403"),
        (KeyServiceStub(ca=generate_user_key(), principal="mallory"), "not valid for user alice"),
    ],
    ids=["refused", "wrong-principal"],
)
async def test_key_service_failures(stub: KeyServiceStub, match: str) -> None:
    async with serve_key_service(stub) as url:
        service = KeyService(SshServiceCredentials(mode="ssh_service", url=url))
        with pytest.raises(KeyServiceFailed, match=match):
            await service.login("alice", "the-jwt")


async def test_key_service_unreachable_and_missing_token() -> None:
    service = KeyService(SshServiceCredentials(mode="ssh_service", url="http://127.0.0.1:9", timeout=2))
    with pytest.raises(KeyServiceFailed, match="failed"):
        await service.login("alice", "the-jwt")
    with pytest.raises(InternalError, match="token"):
        await service.login("alice", None)


async def test_static_keys(tmp_path: pathlib.Path) -> None:
    key = generate_user_key()
    keys = StaticKeysCredentials(
        mode="static_keys",
        keys={
            "alice": StaticKey(private_key=Secret(private_key_text(key))),
            "bob": StaticKey(private_key=Secret("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n")),
        },
    )
    source = StaticKeys(keys)
    login = await source.login("alice", None)
    assert public_key_text(login.key) == public_key_text(key)
    assert login.certificate is None and login.valid_before is None
    with pytest.raises(Forbidden, match="no SSH key is configured for user carol"):
        await source.login("carol", None)
    with pytest.raises(InternalError, match="cannot be read"):
        await source.login("bob", None)


async def test_key_service_gets_the_service_accounts_own_token_from_the_idp() -> None:
    await trio.to_thread.run_sync(_install_idp)
    idp = await trio.to_thread.run_sync(Idp)
    try:
        stub = KeyServiceStub(ca=generate_user_key(), check_token_user=True)
        async with serve_key_service(stub) as url:
            for method in ("client_secret_basic", "client_secret_post"):
                client = ClientCredentials(token_url=f"{idp.issuer}/token", client_id="firesrv-client",
                                           client_secret=Secret("firesrv-secret"), auth_method=method)  # type: ignore[arg-type]  # fmt: skip
                config = SshServiceCredentials(mode="ssh_service", url=url, service_account_client=client)
                service = KeyService(config, service_account="firesrv")
                login = await service.login("firesrv", None)
                assert login.certificate is not None and certificate_principals(login.certificate) == ("firesrv",)
                # No token and not the service account: refused before anything is asked.
                with pytest.raises(InternalError, match="token"):
                    await service.login("fireuser", None)
            wrong = ClientCredentials(token_url=f"{idp.issuer}/token", client_id="firesrv-client",
                                      client_secret=Secret("wrong"))  # fmt: skip
            service = KeyService(SshServiceCredentials(mode="ssh_service", url=url, service_account_client=wrong),
                                 service_account="firesrv")  # fmt: skip
            with pytest.raises(KeyServiceFailed, match="token endpoint .* answered 401"):
                await service.login("firesrv", None)
    finally:
        await trio.to_thread.run_sync(idp.stop)
    assert [(r["json"]["username"], token_user(r["headers"]["authorization"])) for r in stub.requests] == [
        ("firesrv", "firesrv"), ("firesrv", "firesrv")]  # fmt: skip
