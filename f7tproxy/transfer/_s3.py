"""The S3 staging store of one cluster: presigned URLs, and the few requests f7tproxy makes itself.

Signing and sending are `f7tproxy.s3.S3Client`'s: every request f7tproxy sends
(create the user's bucket, its expiry rule, create a multipart upload) is
presigned like the URLs it hands out and sent under a deadline.

URLs for clients use the store's public endpoint; URLs for the staging jobs
on the cluster and f7tproxy's own requests use its private endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import httpx

from ..config import S3StagingConfig
from ..errors import BackendFailure
from ..s3 import NS, S3Client, S3Error


class StagingFailed(BackendFailure):
    """The staging store refused or did not answer."""


class Staging:
    """Presigning and bucket set-up for one cluster's S3 staging store.

    Build it at start (botocore reads its service description from disk).
    """

    def __init__(self, config: S3StagingConfig, *, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._s3 = S3Client(config)
        self._s3.prepare_presigning()
        self._ready: set[str] = set()

    @staticmethod
    def bucket_for(user: str) -> str:
        """The user's bucket: a valid S3 name, distinct per user name."""
        slug = re.sub(r"[^a-z0-9-]+", "-", user.lower()).strip("-")[:40] or "user"
        return f"f7t-{slug}-{hashlib.sha256(user.encode()).hexdigest()[:8]}"

    @staticmethod
    def new_key(file_name: str) -> str:
        """A fresh object key: `<uuid4>/<file name>`."""
        return f"{uuid.uuid4()}/{file_name}"

    def parts(self, size: int) -> int:
        """How many parts of at most max_part_size a `size`-byte object has (at least 1)."""
        return max(1, -(-size // self.config.max_part_size))

    # ------------------------------------------------------------------ presigned URLs

    def _sign(self, public: bool, operation: str, method: str, **params: Any) -> str:
        return self._s3.presign(operation, method, public=public, **params)

    def part_urls(self, bucket: str, key: str, upload_id: str, count: int, *, public: bool) -> list[str]:
        return [
            self._sign(public, "upload_part", "PUT", Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n)
            for n in range(1, count + 1)
        ]

    def complete_url(self, bucket: str, key: str, upload_id: str, *, public: bool) -> str:
        return self._sign(public, "complete_multipart_upload", "POST", Bucket=bucket, Key=key, UploadId=upload_id)

    def get_url(self, bucket: str, key: str, *, public: bool) -> str:
        return self._sign(public, "get_object", "GET", Bucket=bucket, Key=key)

    def head_url(self, bucket: str, key: str, *, public: bool) -> str:
        return self._sign(public, "head_object", "HEAD", Bucket=bucket, Key=key)

    # ------------------------------------------------------------------ requests

    async def _send(self, method: str, url: str, content: bytes = b"", headers: dict[str, str] | None = None,
                    ok: tuple[int, ...] = (200,)) -> httpx.Response:  # fmt: skip
        try:
            return await self._s3.send(method, url, content=content, headers=headers, ok=ok, timeout=self.timeout)
        except S3Error as exc:
            if exc.status is None:
                raise StagingFailed(f"the staging store did not answer: {exc.cause}") from None
            raise StagingFailed(f"the staging store refused ({exc.status}): {exc.body}") from None

    async def ensure_bucket(self, bucket: str) -> None:
        """Create `bucket` (if needed) with a rule expiring objects and unfinished uploads.

        Raises StagingFailed.
        """
        if bucket in self._ready:
            return
        body = b""
        if self.config.region != "us-east-1":
            body = (f'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                    f"<LocationConstraint>{self.config.region}</LocationConstraint></CreateBucketConfiguration>"
                    ).encode()  # fmt: skip
        url = self._sign(False, "create_bucket", "PUT", Bucket=bucket)
        response = await self._send("PUT", url, body, ok=(200, 409))
        if response.status_code == 409 and "BucketAlreadyOwnedByYou" not in response.text:
            raise StagingFailed(f"bucket {bucket} exists and is not ours")
        days = self.config.object_expiry_days
        rule = (
            '<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule>'
            "<ID>f7tproxy-expiry</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
            f"<Expiration><Days>{days}</Days></Expiration>"
            f"<AbortIncompleteMultipartUpload><DaysAfterInitiation>{days}</DaysAfterInitiation>"
            "</AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>"
        ).encode()
        md5 = base64.b64encode(hashlib.md5(rule, usedforsecurity=False).digest()).decode()
        url = self._sign(False, "put_bucket_lifecycle_configuration", "PUT", Bucket=bucket)
        await self._send("PUT", url, rule, {"Content-MD5": md5, "Content-Type": "application/xml"})
        self._ready.add(bucket)

    async def create_multipart(self, bucket: str, key: str) -> str:
        """Start a multipart upload; its UploadId. Raises StagingFailed."""
        url = self._sign(False, "create_multipart_upload", "POST", Bucket=bucket, Key=key)
        headers = {"Content-Type": "application/octet-stream"}
        try:
            response = await self._send("POST", url, headers=headers)
        except StagingFailed as exc:
            if bucket not in self._ready or "NoSuchBucket" not in exc.message:
                raise
            # The bucket went away (deleted, or a store that lost its state): make it again, once.
            self._ready.discard(bucket)
            await self.ensure_bucket(bucket)
            response = await self._send("POST", url, headers=headers)
        try:
            node = ET.fromstring(response.content).find(f"{NS}UploadId")
        except ET.ParseError:
            node = None
        if node is None or not node.text:
            raise StagingFailed("the staging store's answer to CreateMultipartUpload has no UploadId")
        return node.text
