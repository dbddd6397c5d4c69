"""`Auth`: authentication and authorization as one part of the root nursery.

    Auth.run
    ├── KeyStore.run             signing keys (from the IdP, or from the demo issuer)
    └── OpenFgaAuthorizer.run    only when auth.openfga is configured
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio

from ..config import Config, warnings
from ..errors import Forbidden, ServiceUnavailable, Unauthorized
from ..observability import Metrics
from ._demo_issuer import DemoIssuer
from ._jwks import HttpKeySource, KeySource, KeysUnavailable, KeyStore, LocalKeySource
from ._jwt import TokenRefused, TokenValidator
from ._openfga import OpenFgaAuthorizer
from ._user import User

log = logging.getLogger(__name__)


class Auth:
    """Turns an `Authorization` header into a `User`, and checks the user's access to a system."""

    def __init__(
        self,
        config: Config,
        *,
        key_source: KeySource | None = None,
        authorizer: OpenFgaAuthorizer | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """Build the parts from `config`; `key_source` and `authorizer` replace the configured ones (tests).

        `metrics` counts refused tokens and authorizations by reason.
        """
        auth = config.auth
        self.config = config
        self._metrics = metrics
        self.demo_issuer: DemoIssuer | None = None
        self._idp: HttpKeySource | None = None
        source: KeySource
        issuer: Callable[[], str | None]
        if auth.demo_issuer.enabled:
            self.demo_issuer = demo = DemoIssuer(auth.demo_issuer, public_url=config.server.public_url)
            source = LocalKeySource(demo.jwks, "demo issuer")
            audiences = auth.audiences or (auth.demo_issuer.audience,)
            issuer = lambda: demo.url_or_none or "(demo issuer not bound yet)"  # noqa: E731
        else:
            source = self._idp = HttpKeySource(jwks_url=auth.jwks_url, issuer=auth.issuer)
            audiences = auth.audiences
            issuer = lambda: auth.issuer  # noqa: E731
        self.keys = KeyStore(
            key_source or source,
            timeout=auth.jwks_timeout,
            refetch_interval=auth.jwks_refetch_interval,
            refresh_interval=auth.jwks_refresh_interval,
        )
        self.validator = TokenValidator(
            auth, self.keys, issuer=issuer, audiences=audiences,
            on_lookup=None if metrics is None else metrics.token_cache_lookup,
        )  # fmt: skip
        if authorizer is None and auth.openfga is not None:
            authorizer = OpenFgaAuthorizer(auth.openfga)
        self.authorizer = authorizer

    @property
    def token_url(self) -> str | None:
        """The OAuth2 token endpoint clients get tokens from, when known: the demo issuer's,
        or the one the IdP's OIDC discovery names."""
        if self.demo_issuer is not None:
            return str(self.demo_issuer.discovery()["token_endpoint"]) if self.demo_issuer.url_or_none else None
        return self._idp.token_endpoint if self._idp is not None else None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load the signing keys and open the OpenFGA client; ready once both can serve."""
        if self.demo_issuer is not None:
            log.warning(
                "!!! DEMO TOKEN ISSUER ENABLED: f7tproxy hands out tokens to the clients in its "
                "configuration (%s). For demos and tests only; never on a real site. !!!",
                ", ".join(c.client_id for c in self.demo_issuer.config.clients),
            )
        for line in warnings(self.config):
            log.warning("!!! %s !!!", line)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.keys.run)
            if self.authorizer is not None:
                await nursery.start(self.authorizer.run)
            task_status.started()

    def bound(self, urls: list[str]) -> None:
        """Tell the parts that need it where the server listens (the demo issuer's URL)."""
        if self.demo_issuer is not None:
            self.demo_issuer.bound(urls)
            log.warning("demo token issuer: %s (token endpoint %s/auth/token)",
                        self.demo_issuer.url, self.demo_issuer.url)

    async def authenticate(self, authorization: str | None) -> User:
        """The user of a request, from its `Authorization` header.

        Raises:
            Unauthorized: no bearer token, or a token that is not valid.
            Forbidden: a valid token for a user refused by `auth.refused_users` or
                `auth.username_pattern` (root, system accounts).
            ServiceUnavailable: the signing keys have not been loaded yet.
        """
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            self._failed("missing")
            raise Unauthorized("Not authenticated")
        try:
            user = await self.validator.validate(token)
        except TokenRefused as exc:
            log.info("token refused: %s", exc.reason)
            self._failed(exc.kind)
            if exc.expired:
                raise Unauthorized("Access token expired", challenge=_INVALID) from None
            raise Unauthorized("Access token is invalid.", challenge=_INVALID) from None
        except KeysUnavailable:
            self._failed("jwks_unavailable")
            raise ServiceUnavailable("Token signing keys are not available yet", retry_after=5) from None
        refused_by = self.config.auth.refuses(user.name)
        if refused_by is not None:
            log.warning("user %r refused by auth.%s", user.name, refused_by)
            self._failed("refused_user")
            raise Forbidden(f"User '{user.name}' may not use this service")
        return user

    async def authorize(self, user: User, system: str) -> None:
        """Check that `user` may use `system` (a configured system), if OpenFGA is configured.

        Raises:
            Forbidden: OpenFGA says no.
            ServiceUnavailable: OpenFGA did not answer in time or failed.
        """
        if self.authorizer is None:
            return
        try:
            await self.authorizer.check(user.name, system)
        except Forbidden:
            self._failed("forbidden")
            raise
        except ServiceUnavailable:
            self._failed("authz_unavailable")
            raise

    def _failed(self, reason: str) -> None:
        if self._metrics is not None:
            self._metrics.token_failure(reason)


_INVALID = 'Bearer error="invalid_token"'
