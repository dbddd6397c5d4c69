"""A small S3 client: botocore signs (SigV4), httpx sends.

botocore is AWS's own, well-kept implementation of request signing and
presigning; its own HTTP stack is blocking, so requests go out on an
`httpx.AsyncClient` instead, which runs on trio and stops at once when the
caller's deadline passes (no thread left behind).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..config import S3StagingConfig

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3Error(Exception):
    """An S3 request failed: the store answered with an error status, or could not be reached."""


class S3Client:
    """Signed requests to one S3-compatible endpoint (the cluster's `staging.private_url`).

    `http` lets tests and callers share an `httpx.AsyncClient`; without it, one is
    made per request (the probe's rate makes pooling pointless).
    """

    def __init__(self, config: S3StagingConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._http = http

    @property
    def endpoint(self) -> str:
        return self._config.private_url.rstrip("/")

    def _signed_headers(self, method: str, url: str) -> dict[str, str]:
        credentials = Credentials(
            self._config.access_key_id.reveal(), self._config.secret_access_key.reveal()
        )
        request = AWSRequest(method=method, url=url, data=b"")
        S3SigV4Auth(credentials, "s3", self._config.region).add_auth(request)
        return dict(request.headers.items())

    async def _request(self, method: str, path: str) -> httpx.Response:
        url = self.endpoint + path
        headers = self._signed_headers(method, url)
        try:
            if self._http is not None:
                response = await self._http.request(method, url, headers=headers)
            else:
                async with httpx.AsyncClient() as http:
                    response = await http.request(method, url, headers=headers)
        except httpx.HTTPError as exc:
            raise S3Error(f"{method} {url}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 300:
            raise S3Error(f"{method} {url}: HTTP {response.status_code} {_error_code(response)}".rstrip())
        return response

    async def list_buckets(self) -> list[str]:
        """The names of the buckets the credentials can see (S3 ListBuckets).

        No deadline of its own: callers bound it (`with trio.fail_after(...)`).
        Raises S3Error if the store cannot be reached or answers with an error.
        """
        response = await self._request("GET", "/")
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError as exc:
            raise S3Error(f"ListBuckets: unreadable answer ({exc})") from None
        return [el.text or "" for el in root.iter(f"{_NS}Name")] or [
            el.text or "" for el in root.iter("Name")
        ]


def _error_code(response: httpx.Response) -> str:
    """The `<Code>` of an S3 error body, if there is one."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        return ""
    code = root.findtext("Code") or root.findtext(f"{_NS}Code")
    return code or ""
