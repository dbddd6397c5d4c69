"""A small S3 client: SigV4 signing (`_sigv4`), requests on httpx.

Requests go out on an `httpx.AsyncClient`, which runs on trio and stops at once
when the caller's deadline passes (no thread left behind).
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import trio

from .._tls import client_context
from ..config import S3StagingConfig
from ._sigv4 import Signer

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
"""The XML namespace of S3's answers."""


class S3Error(Exception):
    """An S3 request failed: the store answered with an error status, or could not be reached.

    `status` and `body` (its first 300 characters) are set when it answered;
    `cause` names the exception when it did not (`TooSlowError` past the deadline).
    """

    def __init__(self, message: str, *, status: int | None = None, body: str = "", cause: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.cause = cause


class S3Client:
    """Signed requests to one S3-compatible store (`staging.private_url`; presigned URLs for either endpoint).

    `http` lets tests and callers share an `httpx.AsyncClient`; without it, one is
    made per request (the probe's rate makes pooling pointless).
    """

    def __init__(self, config: S3StagingConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._http = http
        self._signer = Signer(config.access_key_id.reveal(), config.secret_access_key.reveal(), config.region)

    @property
    def endpoint(self) -> str:
        return self._config.private_url.rstrip("/")

    # ------------------------------------------------------------------ presigning

    def presign(self, operation: str, method: str, *, public: bool = False, **params: Any) -> str:
        """A URL for S3 `operation` (`"upload_part"`, ...) valid for the store's `url_ttl`.

        `params`: `Bucket`, and as the operation needs them `Key`, `UploadId`, `PartNumber`
        (path-style URLs: `<endpoint>/<bucket>/<key>`). `public`: on the store's public
        endpoint (for clients), else its private one. Raises ValueError for an unknown
        operation or a method that is not the operation's.
        """
        try:
            expected, subresource, names = _OPERATIONS[operation]
        except KeyError:
            raise ValueError(f"unknown S3 operation {operation!r}") from None
        if method != expected or set(params) != {"Bucket", *names}:
            wanted = ", ".join(["Bucket", *names])
            raise ValueError(f"{operation} is {expected} with {wanted}, not {method} with {', '.join(sorted(params))}")
        path = "/" + params["Bucket"] + ("/" + params["Key"] if "Key" in params else "")
        query = [(subresource, "")] if subresource else []
        query += [(_QUERY[name], str(params[name])) for name in ("PartNumber", "UploadId") if name in params]
        endpoint = self._config.public_url if public else self._config.private_url
        return self._signer.presign(method, endpoint, path, query=query, expires=int(self._config.url_ttl))

    # ------------------------------------------------------------------ sending

    async def send(
        self, method: str, url: str, *, content: bytes = b"", headers: dict[str, str] | None = None,
        ok: tuple[int, ...] | None = None, timeout: float | None = None,
    ) -> httpx.Response:  # fmt: skip
        """Send one (signed or presigned) request.

        `ok`: the statuses that count as success (default: any 2xx). `timeout`: a
        deadline of its own, also httpx's timeout; without it the caller bounds the
        call (httpx's default timeout applies). Raises S3Error.
        """
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            with trio.fail_after(timeout) if timeout is not None else contextlib.nullcontext():
                if self._http is not None:
                    response = await self._http.request(method, url, content=content, headers=headers, **options)
                else:
                    async with httpx.AsyncClient(verify=client_context(), **options) as http:
                        response = await http.request(method, url, content=content, headers=headers)
        except (httpx.HTTPError, trio.TooSlowError) as exc:
            raise S3Error(f"{method} {url}: {exc.__class__.__name__}: {exc}", cause=type(exc).__name__) from exc
        good = 200 <= response.status_code < 300 if ok is None else response.status_code in ok
        if not good:
            raise S3Error(
                f"{method} {url}: HTTP {response.status_code} {_error_code(response)}".rstrip(),
                status=response.status_code, body=response.text[:300],
            )  # fmt: skip
        return response

    async def list_buckets(self) -> list[str]:
        """The names of the buckets the credentials can see (S3 ListBuckets).

        No deadline of its own: callers bound it (`with trio.fail_after(...)`).
        Raises S3Error if the store cannot be reached or answers with an error.
        """
        url, headers = self._signer.sign("GET", self.endpoint, "/")
        response = await self.send("GET", url, headers=headers)
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise S3Error(f"ListBuckets: unreadable answer ({exc})") from None
        return [el.text or "" for el in root.iter(f"{NS}Name")] or [
            el.text or "" for el in root.iter("Name")
        ]


_OPERATIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # operation: (method, subresource, parameters besides Bucket)
    "create_bucket": ("PUT", "", ()),
    "put_bucket_lifecycle_configuration": ("PUT", "lifecycle", ()),
    "create_multipart_upload": ("POST", "uploads", ("Key",)),
    "upload_part": ("PUT", "", ("Key", "UploadId", "PartNumber")),
    "complete_multipart_upload": ("POST", "", ("Key", "UploadId")),
    "abort_multipart_upload": ("DELETE", "", ("Key", "UploadId")),
    "list_parts": ("GET", "", ("Key", "UploadId")),
    "list_multipart_uploads": ("GET", "uploads", ()),
    "get_object": ("GET", "", ("Key",)),
    "head_object": ("HEAD", "", ("Key",)),
}
_QUERY = {"PartNumber": "partNumber", "UploadId": "uploadId"}


def _error_code(response: httpx.Response) -> str:
    """The `<Code>` of an S3 error body, if there is one."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        return ""
    code = root.findtext("Code") or root.findtext(f"{NS}Code")
    return code or ""
