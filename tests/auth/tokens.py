"""Signing keys and token builders for the auth tests (forged tokens included)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

ISSUER = "https://idp.test"
AUDIENCE = "f7tproxy"

GOOD_KEY = RSAKey.generate_key(2048, parameters={"kid": "good", "alg": "RS256", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "good", "alg": "RS256", "use": "sig"})
EC_KEY = ECKey.generate_key("P-256", parameters={"kid": "ec", "use": "sig"})


def jwks(*keys: Any) -> dict[str, Any]:
    """The public JWKS of `keys` (default: the good key and the EC key)."""
    return {"keys": [k.as_dict(private=False) for k in (keys or (GOOD_KEY, EC_KEY))]}


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for user alice; a value of None removes the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice-id", "iat": now, "nbf": now, "exp": now + 300,
        "preferred_username": "alice",
    }  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any] | None = None, *, key: Any = GOOD_KEY, alg: str = "RS256", **header: Any) -> str:
    """A token over `payload` signed by `key`; header `kid` defaults to the key's."""
    head = {"alg": alg, "kid": key.kid, **header}
    head = {k: v for k, v in head.items() if v is not None}
    return jwt.encode(head, payload if payload is not None else claims(), key, algorithms=[alg])


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: str = "") -> str:
    return f"{b64(json.dumps(header))}.{b64(json.dumps(payload))}.{signature}"


def hs256_with_public_key() -> str:
    """HS256 keyed with the RSA public key's PEM: the classic key-confusion forgery."""
    header = b64(json.dumps({"alg": "HS256", "kid": "good"}))
    payload = b64(json.dumps(claims()))
    secret = GOOD_KEY.as_pem(private=False)
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def tampered() -> str:
    """A good token whose payload was changed after signing (alice -> root)."""
    header, _, rest = sign().partition(".")
    _, _, signature = rest.partition(".")
    return f"{header}.{b64(json.dumps(claims(preferred_username='root')))}.{signature}"


def forged_corpus() -> dict[str, str | None]:
    """Authorization header values that must all get 401 (None: no header)."""
    now = int(time.time())
    good = sign()
    head, body, _ = good.split(".")
    return {
        "no header": None,
        "not bearer": f"Basic {b64('alice:secret')}",
        "empty bearer": "Bearer ",
        "garbage": "Bearer not-a-jwt",
        "no signature": f"Bearer {head}.{body}.",
        "two parts": f"Bearer {head}.{body}",
        "five parts (JWE shape)": f"Bearer {head}.{body}.a.b.c",
        "alg none": "Bearer " + unsigned({"alg": "none", "kid": "good"}, claims()),
        "alg None": "Bearer " + unsigned({"alg": "None", "kid": "good"}, claims()),
        "alg none, no kid": "Bearer " + unsigned({"alg": "none"}, claims()),
        "HS256 with the public key": f"Bearer {hs256_with_public_key()}",
        "RS256 token for the EC key": "Bearer " + unsigned({"alg": "RS256", "kid": "ec"}, claims(), "AAAA"),
        "wrong key": f"Bearer {sign(key=OTHER_KEY)}",
        "expired": f"Bearer {sign(claims(iat=now - 3600, nbf=now - 3600, exp=now - 600))}",
        "not yet valid": f"Bearer {sign(claims(nbf=now + 600))}",
        "issued in the future": f"Bearer {sign(claims(iat=now + 600))}",
        "no exp": f"Bearer {sign(claims(exp=None))}",
        "wrong iss": f"Bearer {sign(claims(iss='https://evil.test'))}",
        "no iss": f"Bearer {sign(claims(iss=None))}",
        "wrong aud": f"Bearer {sign(claims(aud='other-api'))}",
        "no aud": f"Bearer {sign(claims(aud=None))}",
        "unknown kid": f"Bearer {sign(key=OTHER_KEY, kid='no-such-kid')}",
        "tampered payload": f"Bearer {tampered()}",
        "no user claim": f"Bearer {sign(claims(preferred_username=None))}",
        "user claim not POSIX": f"Bearer {sign(claims(preferred_username='Bob Smith'))}",
        "user claim injection": f"Bearer {sign(claims(preferred_username='alice;reboot'))}",
        "user claim not a string": f"Bearer {sign(claims(preferred_username=1000))}",
        # `$` would let a trailing newline through: a second "alice" to the pool, limits and OpenFGA.
        "user claim with a trailing newline": "Bearer " + sign(claims(preferred_username="alice\n")),
        "user claim with non-ASCII digits": "Bearer " + sign(claims(preferred_username="alice\u0661\u0662")),
        "huge token": "Bearer " + "a" * 20000,
    }
