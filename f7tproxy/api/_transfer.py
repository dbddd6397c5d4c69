"""Filesystem transfer routes (FirecREST's /filesystem/{system}/transfer group).

Each route checks its inputs as the ops do, builds the job script
(`f7tproxy.transfer`), and submits it through the cluster's scheduler as the
calling user; the answer is FirecREST's `transferJob`. upload and download
stage the file in the cluster's S3 store with presigned multipart URLs.

Health gates (503 while seen unhealthy): ssh and scheduler for every route (the
`before_request` hook in `_health`), the file system of every path
(`checked_path`), and the S3 store for upload and download (`_staging`).
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

from quart import Blueprint, request

from ..config import ClusterConfig
from ..errors import BadRequest
from ..filesystem import ops
from ..transfer import (
    Staging,
    TransferJob,
    check_account,
    compress_script,
    copy_script,
    delete_script,
    egress_script,
    extract_script,
    ingress_script,
    move_script,
    submit_transfer,
)
from ._context import body_bool, body_path, current_system, current_user, field, json_body, lease, query_path, source_path
from ._filesystem import tar_request
from ._openapi import Param, operation

transfer = Blueprint("transfer", __name__, url_prefix="/filesystem")

_STAGED = (
    "Presigned multipart URLs (parts of at most the store's `max_part_size`) and a staging job on the "
    "cluster; for files larger than the inline limit (`max_ops_file_size`) of the ops routes. A file that "
    "would need more than 10,000 parts (S3's limit) is refused with 400. A user with `max_waiting_uploads` "
    "uploads waiting for their files on the system gets 429 with Retry-After."
)


async def _submit(name: str, script: str, account: str | None) -> TransferJob:
    jobs = current_system().jobs
    async with lease() as held:
        return await submit_transfer(jobs, held, current_user().name, name=name, script=script, account=account)


def _answer(job: TransferJob, status: int = 201) -> tuple[dict[str, Any], int]:
    return {"transferJob": job.to_wire()}, status


async def _two_paths() -> tuple[ClusterConfig, dict[str, Any], str, str, str | None]:
    cluster = current_system().cluster
    body = await json_body()
    source, target = source_path(body), body_path(body, "targetPath", "target_path")
    return cluster, body, source, target, check_account(field(body, "account"))


@transfer.post("/<system>/transfer/mv")
@operation("Move files (a scheduler job)", tag="filesystem", firecrest="move_mv", status=201, body="MoveRequest",
           response="MoveResponse")
async def mv(system: str) -> tuple[dict[str, Any], int]:
    cluster, _, source, target, account = await _two_paths()
    script = move_script(cluster.transfer_directives, source, target)
    return _answer(await _submit("MoveFiles", script, account))


@transfer.post("/<system>/transfer/cp")
@operation("Copy files (a scheduler job)", tag="filesystem", firecrest="post_cp", status=201, body="CopyRequest",
           response="CopyResponse")
async def cp(system: str) -> tuple[dict[str, Any], int]:
    cluster, body, source, target, account = await _two_paths()
    script = copy_script(cluster.transfer_directives, source, target, dereference=body_bool(body, "dereference"))
    return _answer(await _submit("CopyFiles", script, account))


@transfer.delete("/<system>/transfer/rm")
@operation("Delete files (a scheduler job)", tag="filesystem", firecrest="delete_rm", status=200, response="DeleteResponse",
           query=(Param("path", {"type": "string"}, required=True), Param("account", {"type": "string"})))
async def rm(system: str) -> tuple[dict[str, Any], int]:
    cluster = current_system().cluster
    path = query_path()
    if any(path == fs.path for fs in cluster.file_systems):
        raise BadRequest(f"{path!r} is the root of a file system and cannot be removed through the API")
    account = check_account(request.args.get("account"))
    script = delete_script(cluster.transfer_directives, path)
    # FirecREST answers this one with 200, not 201, and pyfirecrest checks for it.
    return _answer(await _submit("DeleteFiles", script, account), 200)


@transfer.post("/<system>/transfer/compress")
@operation("Create a tar archive (a scheduler job)", tag="filesystem", firecrest="compress", status=201,
           body="CompressRequest", response="CompressResponse")
async def compress(system: str) -> tuple[dict[str, Any], int]:
    cluster = current_system().cluster
    body = await json_body()
    tar = tar_request(body, compress=True)
    account = check_account(field(body, "account"))
    script = compress_script(cluster.transfer_directives, tar.source, tar.target, compression=tar.compression,
                             dereference=tar.dereference, match_pattern=tar.match_pattern)  # fmt: skip
    return _answer(await _submit("CompressFiles", script, account))


@transfer.post("/<system>/transfer/extract")
@operation("Extract a tar archive (a scheduler job)", tag="filesystem", firecrest="extract", status=201,
           body="ExtractRequest", response="ExtractResponse")
async def extract(system: str) -> tuple[dict[str, Any], int]:
    cluster = current_system().cluster
    body = await json_body()
    tar = tar_request(body, compress=False)
    account = check_account(field(body, "account"))
    script = extract_script(cluster.transfer_directives, tar.source, tar.target, compression=tar.compression)
    return _answer(await _submit("ExtractFiles", script, account))


# --------------------------------------------------------------------------- staged upload/download


def _directives(body: dict[str, Any]) -> dict[str, Any]:
    value = field(body, "transferDirectives", "transfer_directives", default={"transferMethod": "s3"})
    if not isinstance(value, dict):
        raise BadRequest("`transferDirectives` must be an object")
    method = value.get("transferMethod", value.get("transfer_method", "s3"))
    if method != "s3":
        raise BadRequest("Requested transfer method is not available.")
    return value


def _staging() -> Staging:
    system = current_system()
    if system.staging is None:
        raise BadRequest("Requested transfer method is not available.")
    system.gate("s3")
    return system.staging


@transfer.post("/<system>/transfer/upload")
@operation("Upload a large file through the S3 staging store", tag="filesystem", firecrest="post_upload", status=201,
           body="PostFileUploadRequest", response="UploadFileResponse", description=_STAGED)
async def upload(system: str) -> tuple[dict[str, Any], int]:
    """Client -> S3 -> cluster: presigned part URLs for the client; a job that fetches the object."""
    cluster = current_system().cluster
    body = await json_body()
    directives = _directives(body)
    staging = _staging()
    target = source_path(body)
    if target == "/" or posixpath.basename(target) == "":
        raise BadRequest("`path` must name the file to create")
    size = directives.get("fileSize", directives.get("file_size"))
    if isinstance(size, str) and size.isascii() and size.isdigit():
        size = int(size)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadRequest("`transferDirectives.fileSize` must be the file's size in bytes")
    parts = staging.check_size(size)  # before anything is created
    account = check_account(field(body, "account"))
    user = current_user()
    with staging.waiting.reserve(user.name) as slot:  # past the user's cap: 429, nothing created
        bucket, key = staging.bucket_for(user.name), staging.new_key(posixpath.basename(target))
        await staging.ensure_bucket(bucket)
        upload_id = await staging.create_multipart(bucket, key)
        # Presigned before the job exists: a client gone meanwhile leaves no job waiting for it.
        part_urls = await staging.part_urls(bucket, key, upload_id, parts, public=True)
        wait = staging.upload_wait
        script = ingress_script(
            cluster.transfer_directives, target, size=size,
            head_url=staging.head_url(bucket, key, public=False), get_url=staging.get_url(bucket, key, public=False),
            list_url=staging.list_parts_url(bucket, key, upload_id, public=False),
            abort_url=staging.abort_url(bucket, key, upload_id, public=False),
            first_wait=math.ceil(staging.first_part_wait), wait_limit=math.ceil(wait),
        )  # fmt: skip
        job = await _submit("IngressFileTransfer", script, account)
        # Counted until its multipart upload is gone, at the latest until the job's wait is over
        # (the job's clock starts when it runs: allow it a first-part wait of queueing).
        slot.submitted(job.job_id, target, bucket=bucket, key=key, upload_id=upload_id,
                       wait=wait + staging.first_part_wait, first_part_wait=2 * staging.first_part_wait)  # fmt: skip
    return {
        "transferJob": job.to_wire(),
        "transferDirectives": {
            "transferMethod": "s3",
            "partsUploadUrls": part_urls,
            "completeUploadUrl": staging.complete_url(bucket, key, upload_id, public=True),
            "maxPartSize": staging.config.max_part_size,
        },
    }, 201


@transfer.post("/<system>/transfer/download")
@operation("Download a large file through the S3 staging store", tag="filesystem", firecrest="post_download",
           status=201, body="PostFileDownloadRequest", response="DownloadFileResponse", description=_STAGED)
async def download(system: str) -> tuple[dict[str, Any], int]:
    """Cluster -> S3 -> client: a job that uploads the file in parts; a presigned GET for the client."""
    cluster = current_system().cluster
    body = await json_body()
    _directives(body)
    staging = _staging()
    source = source_path(body)
    account = check_account(field(body, "account"))
    user = current_user()
    async with lease() as held:
        info = await ops.stat(held, source, dereference=True)
        if info["mode"] & 0o170000 != 0o100000:
            raise BadRequest(f"{source!r} is not a regular file")
        parts = staging.check_size(info["size"])  # before anything is created
        bucket, key = staging.bucket_for(user.name), staging.new_key(posixpath.basename(source))
        await staging.ensure_bucket(bucket)
        upload_id = await staging.create_multipart(bucket, key)
        script = egress_script(
            cluster.transfer_directives, source, size=info["size"], part_size=staging.config.max_part_size,
            part_urls=await staging.part_urls(bucket, key, upload_id, parts, public=False),
            complete_url=staging.complete_url(bucket, key, upload_id, public=False),
        )  # fmt: skip
        job = await submit_transfer(current_system().jobs, held, user.name, name="EgressFileTransfer",
                                    script=script, account=account)  # fmt: skip
    return {
        "transferJob": job.to_wire(),
        "transferDirectives": {"transferMethod": "s3", "downloadUrl": staging.get_url(bucket, key, public=True)},
    }, 201
