"""f7tproxy's HTTP clients share one TLS context: the CA bundle is loaded once per process."""

from __future__ import annotations

import ssl
from typing import Any

import pytest

from f7tproxy import _tls
from f7tproxy.auth import HttpKeySource, KeySourceError
from f7tproxy.config import S3StagingConfig, Secret
from f7tproxy.s3 import S3Client, S3Error

NOWHERE = "http://127.0.0.1:9"  # loopback, nothing listens: every request fails at once


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every CA bundle loaded into a TLS context from here on, with a fresh shared context."""
    seen: list[Any] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        seen.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    monkeypatch.setattr(_tls, "_context", None)
    return seen


async def test_jwks_fetches_and_s3_requests_load_the_ca_bundle_once(loads: list[Any]) -> None:
    source = HttpKeySource(jwks_url=f"{NOWHERE}/jwks", issuer=None)
    s3 = S3Client(S3StagingConfig(private_url=NOWHERE, public_url=NOWHERE, access_key_id=Secret("a"),
                                  secret_access_key=Secret("b")))  # fmt: skip
    for _ in range(3):
        with pytest.raises(KeySourceError):
            await source.fetch()
        with pytest.raises(S3Error):
            await s3.list_buckets()
    assert len(loads) == 1


def test_preload_makes_the_context_in_a_thread(loads: list[Any]) -> None:
    _tls.preload()
    context = _tls.client_context()  # waits for the thread's context, does not make another
    assert context is _tls.client_context() and context.verify_mode == ssl.CERT_REQUIRED
    assert len(loads) == 1
