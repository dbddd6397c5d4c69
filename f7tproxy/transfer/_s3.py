"""The S3 staging store of one cluster: presigned URLs, and the few requests f7tproxy makes itself.

Signing and sending are `f7tproxy.s3.S3Client`'s: every request f7tproxy sends
(create the user's bucket, its expiry rule, create a multipart upload) is
presigned like the URLs it hands out and sent under a deadline.

URLs for clients use the store's public endpoint; URLs for the staging jobs
on the cluster and f7tproxy's own requests use its private endpoint.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import trio

from ..config import S3StagingConfig
from ..errors import BackendFailure, BadRequest
from ..s3 import NS, S3Client, S3Error
from ._waiting import WaitingUploads

MAX_PARTS = 10_000
"""S3's limit on the parts of one multipart upload: the most part URLs f7tproxy ever presigns for one file."""

_PRESIGN_SLICE = 50
"""Part URLs presigned between two checkpoints (one presign costs up to ~1 ms of CPU), so a
10,000-part file does not hold the event loop, and every other request, for seconds."""

CHECK_INTERVAL = 10.0
"""Seconds between two looks at the waiting uploads' multipart uploads (`Staging.run`); also the
Retry-After of a user at the cap of waiting uploads, since a slot frees at a check at the earliest."""


class StagingFailed(BackendFailure):
    """The staging store refused or did not answer."""


class Staging:
    """Presigning and bucket set-up for one cluster's S3 staging store, and its uploads waiting for clients.

    `run` it in a nursery so that uploads no longer waiting are forgotten (`waiting`).
    """

    def __init__(self, config: S3StagingConfig, *, timeout: float = 10.0) -> None:
        self.config = config
        self.timeout = timeout
        self._s3 = S3Client(config)
        self._ready: set[str] = set()
        self.waiting = WaitingUploads(config.max_waiting_uploads, retry_after=CHECK_INTERVAL)
        """The staged uploads whose jobs wait for their clients (the per-user cap)."""

    @property
    def upload_wait(self) -> float:
        """How long an upload's staging job waits at most for its client: `upload_wait`, within `url_ttl`."""
        return min(self.config.upload_wait, self.config.url_ttl)

    @property
    def first_part_wait(self) -> float:
        """How long an upload's staging job waits for the client's first part."""
        return min(self.config.first_part_wait, self.upload_wait)

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

    @property
    def max_size(self) -> int:
        """The largest file that can be staged: MAX_PARTS parts of max_part_size."""
        return MAX_PARTS * self.config.max_part_size

    def check_size(self, size: int) -> int:
        """The number of parts of a `size`-byte file. Raises BadRequest if it needs more than MAX_PARTS."""
        if size > self.max_size:
            raise BadRequest(
                f"The file is too large to transfer through the staging area: {size} bytes would need "
                f"{self.parts(size)} parts of {self.config.max_part_size} bytes, and at most {MAX_PARTS} "
                f"parts ({self.max_size} bytes) are allowed."
            )
        return self.parts(size)

    # ------------------------------------------------------------------ presigned URLs

    def _sign(self, public: bool, operation: str, method: str, **params: Any) -> str:
        return self._s3.presign(operation, method, public=public, **params)

    async def part_urls(self, bucket: str, key: str, upload_id: str, count: int, *, public: bool) -> list[str]:
        """The presigned PUT URLs of parts 1..`count`, with a checkpoint every few URLs.

        Raises ValueError if `count` is past MAX_PARTS (callers check sizes with `check_size` first).
        """
        if not 1 <= count <= MAX_PARTS:
            raise ValueError(f"a multipart upload has 1 to {MAX_PARTS} parts, not {count}")
        urls = []
        for n in range(1, count + 1):
            urls.append(self._sign(public, "upload_part", "PUT", Bucket=bucket, Key=key, UploadId=upload_id,
                                   PartNumber=n))  # fmt: skip
            if n % _PRESIGN_SLICE == 0:
                await trio.lowlevel.checkpoint()
        return urls

    def complete_url(self, bucket: str, key: str, upload_id: str, *, public: bool) -> str:
        return self._sign(public, "complete_multipart_upload", "POST", Bucket=bucket, Key=key, UploadId=upload_id)

    def get_url(self, bucket: str, key: str, *, public: bool) -> str:
        return self._sign(public, "get_object", "GET", Bucket=bucket, Key=key)

    def head_url(self, bucket: str, key: str, *, public: bool) -> str:
        return self._sign(public, "head_object", "HEAD", Bucket=bucket, Key=key)

    def list_parts_url(self, bucket: str, key: str, upload_id: str, *, public: bool) -> str:
        return self._sign(public, "list_parts", "GET", Bucket=bucket, Key=key, UploadId=upload_id)

    def abort_url(self, bucket: str, key: str, upload_id: str, *, public: bool) -> str:
        return self._sign(public, "abort_multipart_upload", "DELETE", Bucket=bucket, Key=key, UploadId=upload_id)

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

    # ------------------------------------------------------------------ waiting uploads

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Every CHECK_INTERVAL, forget the waiting uploads whose multipart upload is gone."""
        task_status.started()
        while True:
            await trio.sleep(CHECK_INTERVAL)
            await self.check_waiting()

    async def check_waiting(self) -> None:
        """Forget each waiting upload whose multipart upload the store no longer has: the client
        completed it, or the staging job aborted it when its wait ran out or it failed. A store
        that does not answer forgets nothing (the uploads' wait bounds still apply). An upload
        with no part by its `first_part_by` is aborted here and forgotten."""
        for upload in self.waiting.entries():
            url = self.list_parts_url(upload.bucket, upload.key, upload.upload_id, public=False)
            try:
                response = await self._send("GET", url, ok=(200, 404))
            except StagingFailed:
                continue
            if response.status_code == 404:
                self.waiting.forget(upload.job_id)
            elif b"<Part>" not in response.content and trio.current_time() >= upload.first_part_by:
                # No part in time: the job gives up (or was cancelled before it ran and never will).
                abort = self.abort_url(upload.bucket, upload.key, upload.upload_id, public=False)
                with contextlib.suppress(StagingFailed):
                    await self._send("DELETE", abort, ok=(204, 404))
                self.waiting.forget(upload.job_id)
