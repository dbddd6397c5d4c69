"""What a new SSH connection logs in with, per the cluster's credentials mode.

Credentials are obtained only when a connection is opened, never per command.
A certificate closer to expiry than the mode's margin is not used for a new
connection: a fresh one is made or fetched. Certificate times are wall-clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import httpx
import trio

from .._tls import client_context
from .._version import __version__
from ..config import Credentials, SshCaCredentials, SshServiceCredentials, StaticKeysCredentials
from ..errors import Forbidden, InternalError, KeyServiceFailed
from .._aio import (
    Certificate,
    PrivateKey,
    certificate_principals,
    certificate_validity,
    generate_user_key,
    import_certificate,
    import_private_key,
    sign_user_certificate,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]

_BACKDATE = 60.0
"""Signed certificates start this long in the past, for clock skew with the cluster."""
_SERVICE_DURATION = "1min"
"""Certificate lifetime asked from an ssh_service key service (what FirecREST asks)."""
_TOKEN_MARGIN = 30.0
"""The service account's token is fetched anew this long before it expires."""


@attrs.frozen
class Login:
    """A key, and maybe a certificate for it, to log in as one user."""

    key: PrivateKey
    certificate: Certificate | None = None
    valid_before: float | None = None
    """Wall-clock expiry of the certificate; None if it does not expire."""

    def fresh(self, now: float, margin: float) -> bool:
        """True if it may still be used for a new connection."""
        return self.valid_before is None or self.valid_before - now > margin


class CredentialSource(Protocol):
    """Gives the login for a new connection of `user`."""

    async def login(self, user: str, token: str | None) -> Login:
        """The key (and certificate) for `user`; `token` is the user's JWT, if the request had one."""
        ...


class CaSigner:
    """`ssh_ca`: an in-memory key pair per user with a short-lived certificate signed by our CA."""

    def __init__(self, config: SshCaCredentials, *, clock: Clock = time.time) -> None:
        """Raises ValueError if the CA key cannot be read."""
        self._config = config
        self._ca = import_private_key(config.ca_key.reveal())
        self._clock = clock
        self._cache: dict[str, Login] = {}

    async def login(self, user: str, token: str | None) -> Login:
        await trio.lowlevel.checkpoint()
        now = self._clock()
        cached = self._cache.get(user)
        if cached is not None and cached.fresh(now, self._config.renew_before):
            return cached
        key = generate_user_key()
        valid_before = now + self._config.cert_ttl
        cert = sign_user_certificate(
            self._ca, key,
            principal=user, valid_after=now - _BACKDATE, valid_before=valid_before,
            key_id=f"f7tproxy:{user}",
        )  # fmt: skip
        login = Login(key, cert, valid_before)
        self._forget_expired(now)
        self._cache[user] = login
        return login

    def _forget_expired(self, now: float) -> None:
        for name in [u for u, c in self._cache.items() if not c.fresh(now, self._config.renew_before)]:
            del self._cache[name]


class KeyService:
    """`ssh_service`: POST the user's JWT to a key service; use the certificate it returns.

    The request and answer have the shape of FirecREST's SSHService:
    ``POST {url}/api/v1/ssh-keys`` with ``{"duration", "username"}`` and a bearer
    token, answered by 201 ``{"sshKey": {"privateKey", "publicKey"}}`` where
    `publicKey` is the certificate.

    Logins without a user's token (the health probes) are allowed for the
    cluster's `service_account` only, with a token of its own: f7tproxy gets one
    from the IdP with the configured `service_account_client` (client-credentials
    grant), as FirecREST does, and keeps it until shortly before it expires.
    """

    def __init__(
        self, config: SshServiceCredentials, *, service_account: str | None = None, clock: Clock = time.time
    ) -> None:
        self._config = config
        self._service_account = service_account
        self._clock = clock
        self._cache: dict[str, Login] = {}
        self._own_token: tuple[str, float] | None = None
        """The service account's token and its wall-clock expiry."""

    async def login(self, user: str, token: str | None) -> Login:
        """Raises KeyServiceFailed if the service (or, for the service account, the
        IdP) fails or answers something unusable, InternalError if no token was
        given for a user other than the service account (or no client is configured)."""
        now = self._clock()
        cached = self._cache.get(user)
        if cached is not None and cached.fresh(now, self._config.renew_before):
            await trio.lowlevel.checkpoint()
            return cached
        if token is None:
            token = await self._service_account_token(user, now)
        body = await self._request(user, token)
        login = self._parse(user, body)
        self._cache[user] = login
        return login

    async def _service_account_token(self, user: str, now: float) -> str:
        client = self._config.service_account_client
        if client is None or user != self._service_account:
            raise InternalError("ssh_service credentials need the user's token, and the request had none")
        if self._own_token is not None and self._own_token[1] - now > _TOKEN_MARGIN:
            return self._own_token[0]
        secret = client.client_secret.reveal()
        form = {"grant_type": "client_credentials"}
        if client.auth_method == "client_secret_post":
            form |= {"client_id": client.client_id, "client_secret": secret}
            credentials = None
        else:
            credentials = (client.client_id, secret)
        what = f"the IdP's token endpoint {client.token_url} (client {client.client_id})"
        response = await self._post(client.token_url, what, data=form, auth=credentials)
        try:
            answer: Any = response.json() if response.status_code == 200 else {}
            own = str(answer["access_token"])
            lifetime = float(answer.get("expires_in", _TOKEN_MARGIN * 2))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise KeyServiceFailed(f"{what} answered {response.status_code} without a usable token") from None
        self._own_token = (own, now + lifetime)
        return own

    async def _request(self, user: str, token: str) -> Any:
        url = self._config.url.rstrip("/") + "/api/v1/ssh-keys"
        headers = {
            "Authorization": f"Bearer {token}",
            "x-client-type": "api",
            "x-client-name": "f7tproxy",
            "x-client-version": __version__,
        }
        what = f"SSH key service at {url}"
        response = await self._post(url, what, json={"duration": _SERVICE_DURATION, "username": user}, headers=headers)
        if response.status_code != 201:
            raise KeyServiceFailed(f"{what} answered {response.status_code} for user {user}")
        try:
            return response.json()
        except ValueError:
            raise KeyServiceFailed(f"{what} answered with a body that is not JSON") from None

    async def _post(self, url: str, what: str, **request: Any) -> httpx.Response:
        """POST under the configured deadline. Raises KeyServiceFailed if it fails or times out."""
        with trio.move_on_after(self._config.timeout) as scope:
            try:
                async with httpx.AsyncClient(timeout=self._config.timeout, verify=client_context()) as client:
                    return await client.post(url, **request)
            except httpx.HTTPError as exc:
                raise KeyServiceFailed(f"{what} failed: {exc!r}") from None
        assert scope.cancelled_caught
        raise KeyServiceFailed(f"{what} did not answer within {self._config.timeout} s")

    def _parse(self, user: str, body: Any) -> Login:
        try:
            pair = body["sshKey"]
            key = import_private_key(pair["privateKey"])
            cert = import_certificate(pair["publicKey"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyServiceFailed(f"SSH key service answered without a usable key pair ({exc})") from None
        principals = certificate_principals(cert)
        if principals and user not in principals:
            raise KeyServiceFailed(f"SSH key service returned a certificate not valid for user {user}")
        _, valid_before = certificate_validity(cert)
        return Login(key, cert, valid_before)


class StaticKeys:
    """`static_keys`: a configured key (and optional certificate) per user.

    Keys are parsed at their first use and kept.
    """

    def __init__(self, config: StaticKeysCredentials, *, clock: Clock = time.time) -> None:
        self._config = config
        self._clock = clock
        self._cache: dict[str, Login] = {}

    async def login(self, user: str, token: str | None) -> Login:
        """Raises Forbidden if no key is configured for `user`, InternalError if the
        configured key or certificate cannot be read or the certificate has expired."""
        login = self._cache.get(user)
        if login is None:
            login = await self._load(user)
            self._cache[user] = login
        else:
            await trio.lowlevel.checkpoint()
        if not login.fresh(self._clock(), 0.0):
            raise InternalError(f"the configured SSH certificate of user {user} has expired")
        return login

    async def _load(self, user: str) -> Login:
        entry = self._config.keys.get(user)
        if entry is None:
            raise Forbidden(f"no SSH key is configured for user {user} on this system")
        passphrase = entry.passphrase.reveal() if entry.passphrase is not None else None
        try:
            key = import_private_key(entry.private_key.reveal(), passphrase)
            cert = None
            valid_before = None
            if entry.certificate is not None:
                cert = import_certificate(await trio.Path(entry.certificate).read_bytes())
                _, valid_before = certificate_validity(cert)
        except (OSError, ValueError) as exc:
            log.error("SSH key of user %s cannot be used: %s", user, exc)
            raise InternalError(f"the configured SSH key of user {user} cannot be read") from None
        return Login(key, cert, valid_before)


def credential_source(
    config: Credentials, *, service_account: str | None = None, clock: Clock = time.time
) -> CredentialSource:
    """The source for a cluster's `credentials` section (`service_account`: the cluster's).

    Raises ValueError if an ssh_ca key cannot be read.
    """
    if isinstance(config, SshCaCredentials):
        return CaSigner(config, clock=clock)
    if isinstance(config, SshServiceCredentials):
        return KeyService(config, service_account=service_account, clock=clock)
    return StaticKeys(config, clock=clock)
