"""Bearer token validation with joserfc: signature, algorithm, claims, user name.

`jwt.decode` checks only the signature; the claims are checked separately with
`JWTClaimsRegistry.validate`. Each refusal raises `TokenRefused` with the reason for
the log; the client only learns that its token was refused (or expired).

A token that passed is remembered, keyed by its SHA-256 (the whole compact token,
signature included: a token changed anywhere is another key and is checked in full),
until its `exp`, and only while the key that verified it is still the JWKS's key for
its `kid`: a key rotation that removes the key drops the tokens it signed at the next
JWKS refresh. Revocation means nothing more here than it does without the cache:
f7tproxy does not ask the IdP about single tokens (no introspection), so a token
stays good until its `exp` unless its signing key is withdrawn; the cache keeps
exactly that rule and only saves the signature check and claim parsing on repeats.
"""

from __future__ import annotations

import collections
import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import attrs

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey

from ..config import AuthConfig, is_posix_user_name
from ._jwks import KeyStore
from ._user import User

# Larger tokens are refused before any parsing: real access tokens are a few KiB.
MAX_TOKEN_BYTES = 16 * 1024

# The key type (and curve) each algorithm needs; a token whose `alg` does not fit the
# key its `kid` names is refused before joserfc sees it (HS/RS key confusion).
_KEY_FOR_ALG: dict[str, tuple[type[Key], str | None]] = {
    **{f"RS{n}": (RSAKey, None) for n in (256, 384, 512)},
    **{f"PS{n}": (RSAKey, None) for n in (256, 384, 512)},
    "ES256": (ECKey, "P-256"),
    "ES384": (ECKey, "P-384"),
    "ES512": (ECKey, "P-521"),
    "ES256K": (ECKey, "secp256k1"),
    "EdDSA": (OKPKey, None),
    "Ed25519": (OKPKey, "Ed25519"),
    **{f"HS{n}": (OctKey, None) for n in (256, 384, 512)},
}


TokenLookup = Literal["hit", "miss"]
"""How a token was validated: from the cache of validated tokens, or checked in full."""


@attrs.frozen
class _Validated:
    user: User
    expires: float
    """The token's `exp` (Unix time)."""
    key: Key
    """The key that verified it (the very object: a JWKS that changes makes new ones)."""
    kid: str | None


class TokenRefused(Exception):
    """The token is not acceptable.

    `kind` is a fixed word for metrics (``malformed``, ``algorithm``, ``unknown_kid``,
    ``signature``, ``expired``, ``claims``, ``username``); `reason` is for the log;
    `expired` may be told to the client.
    """

    def __init__(self, kind: str, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.expired = expired


def _claim_kind(exc: JoseError) -> str:
    """The metrics word of a refused claim (`exp` has its own path)."""
    claim = getattr(exc, "claim", None)
    return {"iss": "issuer", "aud": "audience", "nbf": "not_yet_valid", "iat": "not_yet_valid"}.get(
        str(claim), "claims"
    )


class TokenValidator:
    """Validates bearer tokens against a `KeyStore` and the configured claims."""

    def __init__(
        self,
        config: AuthConfig,
        keys: KeyStore,
        *,
        issuer: Callable[[], str | None],
        audiences: Sequence[str],
        now: Callable[[], int] | None = None,
        on_lookup: Callable[[TokenLookup], None] | None = None,
    ) -> None:
        """`now` replaces the clock (Unix seconds; tests); `on_lookup` hears how each valid token was found."""
        self._config = config
        self._validated: collections.OrderedDict[bytes, _Validated] = collections.OrderedDict()
        self._on_lookup = on_lookup
        self._keys = keys
        self._issuer = issuer
        self._audiences = list(audiences)
        self._algorithms = [a for a in config.algorithms if a.lower() != "none"]
        self._now = now

    def _claims_registry(self) -> jwt.JWTClaimsRegistry:
        options: dict[str, Any] = {"exp": {"essential": True}}
        issuer = self._issuer()
        if issuer is not None:
            options["iss"] = {"essential": True, "value": issuer}
        if self._audiences:
            options["aud"] = {"essential": True, "values": self._audiences}
        return jwt.JWTClaimsRegistry(now=self._now, leeway=int(self._config.leeway), **options)

    async def validate(self, token: str) -> User:
        """The user a valid token names.

        Raises:
            TokenRefused: the token is malformed, badly signed, expired, not yet valid,
                for another issuer or audience, or names no valid user.
            KeysUnavailable: no signing keys have been loaded yet.
        """
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRefused("malformed", f"token of {len(token)} bytes")
        digest = hashlib.sha256(token.encode()).digest()
        kept = self._kept(digest)
        if kept is not None:
            return kept
        user, key, kid = await self._check(token)
        self._keep(digest, user, key, kid)
        return user

    def _now_seconds(self) -> float:
        return self._now() if self._now is not None else time.time()

    def _kept(self, digest: bytes) -> User | None:
        entry = self._validated.get(digest)
        if entry is not None:
            if entry.expires > self._now_seconds() and self._keys.current(entry.kid) is entry.key:
                self._count("hit")
                return entry.user
            del self._validated[digest]
        return None

    def _keep(self, digest: bytes, user: User, key: Key, kid: str | None) -> None:
        self._count("miss")
        limit = self._config.token_cache_entries
        expires = user.claims.get("exp")
        if limit <= 0 or isinstance(expires, bool) or not isinstance(expires, (int, float)):
            return
        self._validated[digest] = _Validated(user, float(expires), key, kid)
        while len(self._validated) > limit:
            self._validated.popitem(last=False)  # the oldest validated

    def _count(self, how: TokenLookup) -> None:
        if self._on_lookup is not None:
            self._on_lookup(how)

    async def _check(self, token: str) -> tuple[User, Key, str | None]:
        """The whole check of a token not in the cache: the user, and the key that verified it."""
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise TokenRefused("malformed", f"malformed token: {exc}") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg.lower() == "none" or alg not in self._algorithms:
            raise TokenRefused("algorithm", f"algorithm {alg!r} is not accepted")
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("malformed", f"kid {kid!r} is not a string")
        key = await self._keys.key_for(kid)
        if key is None:
            raise TokenRefused("unknown_kid", f"unknown kid {kid!r}")
        self._check_key_fits(key, alg)
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except (JoseError, ValueError) as exc:
            raise TokenRefused("signature", f"signature: {exc}") from None
        try:
            self._claims_registry().validate(decoded.claims)
        except ExpiredTokenError:
            raise TokenRefused("expired", f"expired (exp {decoded.claims.get('exp')})", expired=True) from None
        except JoseError as exc:
            raise TokenRefused(_claim_kind(exc), f"claims: {exc}") from None
        return User(name=self._user_name(decoded.claims), token=token, claims=decoded.claims), key, kid

    @staticmethod
    def _check_key_fits(key: Key, alg: str) -> None:
        key_alg = key.get("alg")
        if key_alg is not None and key_alg != alg:
            raise TokenRefused("algorithm", f"token alg {alg} but key {key.kid!r} is for {key_alg}")
        kind, curve = _KEY_FOR_ALG.get(alg, (None, None))
        if kind is None or not isinstance(key, kind):
            raise TokenRefused("algorithm", f"token alg {alg} does not fit key {key.kid!r} of type {key.key_type}")
        if curve is not None and getattr(key, "curve_name", None) != curve:
            raise TokenRefused("algorithm", f"token alg {alg} does not fit the curve of key {key.kid!r}")

    def _user_name(self, claims: dict[str, Any]) -> str:
        for claim in self._config.username_claims:
            value = claims.get(claim)
            if value is None:
                continue
            if not isinstance(value, str) or not is_posix_user_name(value):
                raise TokenRefused("username", f"claim {claim!r} is not a POSIX user name: {value!r}")
            return value
        raise TokenRefused("username", f"no user name claim (tried {', '.join(self._config.username_claims)})")
