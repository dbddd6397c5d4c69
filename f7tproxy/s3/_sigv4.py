"""AWS Signature Version 4 for S3: signed headers and presigned URLs (standard library only).

The algorithm as AWS specifies it ("Signature Version 4 signing process", and S3's
"Authenticating Requests" pages): a canonical request (method, URI-encoded path,
sorted encoded query, sorted lower-case headers, payload hash) is hashed into a
string to sign, which is HMAC-SHA256'd with a key derived from the secret, the
date, the region and the service. tests/s3/test_sigv4.py checks it against the
examples AWS publishes. Pure computation: safe on the event loop.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable, Mapping

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _quote(text: str, safe: str = "-_.~") -> str:
    """URI-encode as SigV4 wants: every byte but the unreserved characters (and `safe`)."""
    return urllib.parse.quote(text, safe=safe)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _host(url: urllib.parse.SplitResult) -> str:
    """The Host header a client sends for `url` (the port only when not the scheme's default)."""
    host = url.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(url.scheme)
    return host if url.port is None or url.port == default else f"{host}:{url.port}"


class Signer:
    """Signs S3 requests with one access key for one region (`service` is "s3")."""

    def __init__(self, access_key: str, secret_key: str, region: str, service: str = "s3") -> None:
        self.access_key = access_key
        self._secret = secret_key
        self.region = region
        self.service = service

    def _scope(self, day: str) -> str:
        return f"{day}/{self.region}/{self.service}/aws4_request"

    def _signature(self, day: str, stamp: str, canonical_request: str) -> str:
        to_sign = "\n".join(
            [ALGORITHM, stamp, self._scope(day), hashlib.sha256(canonical_request.encode()).hexdigest()]
        )
        key = _hmac(("AWS4" + self._secret).encode(), day)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _canonical_request(
        method: str, path: str, query: Iterable[tuple[str, str]], headers: Mapping[str, str], payload_hash: str,
    ) -> tuple[str, str]:  # fmt: skip
        """The canonical request (for the already encoded `path`) and its signed-headers list."""
        encoded = sorted((_quote(k), _quote(v)) for k, v in query)
        names = sorted(headers)
        return "\n".join([
            method.upper(),
            path,
            "&".join(f"{k}={v}" for k, v in encoded),
            "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
            ";".join(names),
            payload_hash,
        ]), ";".join(names)  # fmt: skip

    def sign(
        self, method: str, endpoint: str, path: str = "/", *, query: Iterable[tuple[str, str]] = (),
        payload: bytes = b"", headers: Mapping[str, str] | None = None, now: datetime.datetime | None = None,
    ) -> tuple[str, dict[str, str]]:  # fmt: skip
        """The URL for `path` (not encoded: `/bucket/key`) under `endpoint` with `query`, and
        the headers that sign a request to it with body `payload`: `headers` plus Host,
        X-Amz-Date, X-Amz-Content-SHA256 and Authorization.
        """
        split, encoded_path = _split(endpoint, path)
        day, stamp = _stamps(now)
        payload_hash = hashlib.sha256(payload).hexdigest()
        out = {"Host": _host(split), **(headers or {}), "X-Amz-Date": stamp, "X-Amz-Content-SHA256": payload_hash}
        query = list(query)
        canonical, signed = self._canonical_request(
            method, encoded_path, query, {k.lower(): v for k, v in out.items()}, payload_hash
        )
        out["Authorization"] = (
            f"{ALGORITHM} Credential={self.access_key}/{self._scope(day)},"
            f"SignedHeaders={signed},Signature={self._signature(day, stamp, canonical)}"
        )
        return _url(split, encoded_path, query), out

    def presign(
        self, method: str, endpoint: str, path: str = "/", *, expires: int,
        query: Iterable[tuple[str, str]] = (), now: datetime.datetime | None = None,
    ) -> str:  # fmt: skip
        """The URL for `path` (not encoded) under `endpoint` with `query` and the X-Amz-*
        parameters that let anyone send `method` to it for `expires` seconds (S3 accepts
        at most 604800, 7 days). Only the Host header is signed; the payload is not
        (S3's UNSIGNED-PAYLOAD).
        """
        split, encoded_path = _split(endpoint, path)
        day, stamp = _stamps(now)
        params = [
            *query,
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", f"{self.access_key}/{self._scope(day)}"),
            ("X-Amz-Date", stamp),
            ("X-Amz-Expires", str(expires)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        canonical, _ = self._canonical_request(method, encoded_path, params, {"host": _host(split)}, UNSIGNED_PAYLOAD)
        params.append(("X-Amz-Signature", self._signature(day, stamp, canonical)))
        return _url(split, encoded_path, params)


def _split(endpoint: str, path: str) -> tuple[urllib.parse.SplitResult, str]:
    """`endpoint` split, and its path joined with `path`, URI-encoded once (S3 does not double-encode)."""
    split = urllib.parse.urlsplit(endpoint)
    return split, _quote(split.path.rstrip("/") + "/" + path.lstrip("/"), safe="-_.~/")


def _stamps(now: datetime.datetime | None) -> tuple[str, str]:
    """The day (20130524) and the time stamp (20130524T000000Z) of `now` (default: the current time), in UTC."""
    when = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    return when.strftime("%Y%m%d"), when.strftime("%Y%m%dT%H%M%SZ")


def _url(split: urllib.parse.SplitResult, encoded_path: str, query: Iterable[tuple[str, str]]) -> str:
    encoded = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query)
    return urllib.parse.urlunsplit((split.scheme, split.netloc, encoded_path, encoded, ""))
