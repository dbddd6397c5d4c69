"""A small S3 client: botocore signs (SigV4 headers, or presigned URLs), httpx sends.

botocore is AWS's own, well-kept implementation of request signing and
presigning (pure computation, safe on the event loop); its own HTTP stack is
blocking, so requests go out on an `httpx.AsyncClient` instead, which runs on
trio and stops at once when the caller's deadline passes (no thread left behind).
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from typing import Any

import botocore.config
import botocore.session
import httpx
import trio
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..config import S3StagingConfig

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
        self._session: botocore.session.Session | None = None
        self._presigners: dict[bool, Any] = {}

    @property
    def endpoint(self) -> str:
        return self._config.private_url.rstrip("/")

    # ------------------------------------------------------------------ signing

    def _signed_headers(self, method: str, url: str) -> dict[str, str]:
        credentials = Credentials(
            self._config.access_key_id.reveal(), self._config.secret_access_key.reveal()
        )
        request = AWSRequest(method=method, url=url, data=b"")
        S3SigV4Auth(credentials, "s3", self._config.region).add_auth(request)
        return dict(request.headers.items())

    def _presigner(self, public: bool) -> Any:
        """botocore's client for the public or private endpoint, made on first use
        (botocore reads its service description from disk)."""
        client = self._presigners.get(public)
        if client is None:
            config = self._config
            if self._session is None:
                self._session = botocore.session.Session()
            client = self._session.create_client(
                "s3",
                endpoint_url=config.public_url if public else config.private_url,
                region_name=config.region,
                aws_access_key_id=config.access_key_id.reveal(),
                aws_secret_access_key=config.secret_access_key.reveal(),
                config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
            self._presigners[public] = client
        return client

    def prepare_presigning(self) -> None:
        """Make both endpoints' presigners now (at start) rather than on the first request."""
        self._presigner(False)
        self._presigner(True)

    def presign(self, operation: str, method: str, *, public: bool = False, **params: Any) -> str:
        """A URL for botocore `operation` (`"upload_part"`, ...) valid for the store's `url_ttl`.

        `public`: on the store's public endpoint (for clients), else its private one.
        """
        url: str = self._presigner(public).generate_presigned_url(
            operation, Params=params, ExpiresIn=int(self._config.url_ttl), HttpMethod=method
        )
        return url

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
                    async with httpx.AsyncClient(**options) as http:
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
        url = self.endpoint + "/"
        response = await self.send("GET", url, headers=self._signed_headers("GET", url))
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise S3Error(f"ListBuckets: unreadable answer ({exc})") from None
        return [el.text or "" for el in root.iter(f"{NS}Name")] or [
            el.text or "" for el in root.iter("Name")
        ]


def _error_code(response: httpx.Response) -> str:
    """The `<Code>` of an S3 error body, if there is one."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        return ""
    code = root.findtext("Code") or root.findtext(f"{NS}Code")
    return code or ""
