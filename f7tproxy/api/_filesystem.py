"""Filesystem ops routes (FirecREST's /filesystem/{system}/ops group).

Each route checks its inputs (paths through `checked_path`, which also gates on the
health of the path's file system), takes one SSH lease
as the calling user and runs the op (`f7tproxy.filesystem.ops`). Request bodies
accept FirecREST's aliases: the source as `sourcePath`, `source_path` or `path`,
and every other field in camelCase or snake_case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from quart import Blueprint, Response, request

from ..errors import BadRequest, PayloadTooLarge
from ..filesystem import COMPRESSIONS, Compression, check_file_name, ops
from ._context import (
    body_bool,
    body_path,
    checked_path,
    current_system,
    field,
    invalid,
    json_body,
    lease,
    query_bool,
    query_int,
    query_path,
    source_path,
)
from ._openapi import Param, operation
from ._share import shared_read

filesystem = Blueprint("filesystem", __name__, url_prefix="/filesystem")

_PATH = Param("path", {"type": "string"}, "Absolute path inside one of the system's file systems", required=True)
_SIZE = Param("size", {"type": "integer", "minimum": 0, "default": 5 * 1024 * 1024},
              "Bytes to read; default and most: the system's `max_ops_file_size` (5 MiB unless configured)")
_OFFSET = Param("offset", {"type": "integer", "minimum": 0, "default": 0}, "Bytes to skip")
_LIMIT = (
    "Limited by the system's `max_ops_file_size` (default 5 MiB): past it the answer is 413 "
    "with a message naming the limit."
)


def _B(name: str) -> Param:
    return Param(name, {"type": "boolean", "default": False})


def _I(name: str) -> Param:
    return Param(name, {"type": "integer", "minimum": 0})


_FORM_OVERHEAD = 64 * 1024
"""Multipart framing allowed on top of the inline upload limit before the body is refused unread."""


# --------------------------------------------------------------------------- request helpers


def compression_of(body: dict[str, Any]) -> Compression:
    value = field(body, "compression", default="gzip")
    if value not in COMPRESSIONS:
        raise invalid("body", "compression", f"expected one of {', '.join(COMPRESSIONS)}, got {value!r}")
    return value  # type: ignore[no-any-return]


def match_pattern_of(body: dict[str, Any]) -> str | None:
    value = field(body, "matchPattern", "match_pattern")
    if value is not None and (not isinstance(value, str) or "\0" in value):
        raise invalid("body", "matchPattern", "expected a regular expression string")
    return value


def _no_content() -> Response:
    return Response("", status=204)


# --------------------------------------------------------------------------- reading


@filesystem.get("/<system>/ops/ls")
@operation("List a directory (or describe a file)", tag="filesystem", firecrest="get_ls", response="GetDirectoryLsResponse", query=(_PATH, _B("showHidden"), _B("numericUid"), _B("recursive"), _B("dereference")))
@shared_read
async def ls(system: str) -> dict[str, Any]:
    path = query_path()
    options = {
        "show_hidden": query_bool("showHidden"),
        "numeric_uid": query_bool("numericUid"),
        "recursive": query_bool("recursive"),
        "dereference": query_bool("dereference"),
    }
    async with lease() as held:
        return {"output": await ops.ls(held, path, names=current_system().names, **options)}


@filesystem.get("/<system>/ops/head")
@operation("The first lines or bytes of a file", tag="filesystem", firecrest="get_head", response="GetFileHeadResponse", query=(_PATH, _I("bytes"), _I("lines"), _B("skipTrailing")), description=_LIMIT)
@shared_read
async def head(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.head, skip_trailing=query_bool("skipTrailing"), **_part_of_file(system))


@filesystem.get("/<system>/ops/tail")
@operation("The last lines or bytes of a file", tag="filesystem", firecrest="get_tail", response="GetFileTailResponse", query=(_PATH, _I("bytes"), _I("lines"), _B("skipHeading")), description=_LIMIT)
@shared_read
async def tail(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.tail, skip_heading=query_bool("skipHeading"), **_part_of_file(system))


def _part_of_file(system: str) -> dict[str, Any]:
    return {
        "file_bytes": _non_negative("bytes"),
        "lines": _non_negative("lines"),
        "limit": current_system().cluster.max_ops_file_size,
    }


def _non_negative(name: str) -> int | None:
    value = query_int(name)
    if value is not None and value < 0:
        raise invalid("query", name, "must be 0 or more")
    return value


@filesystem.get("/<system>/ops/view")
@operation("Part of a file as text", tag="filesystem", firecrest="get_view", response="GetViewFileResponse", query=(_PATH, _SIZE, _OFFSET), description=_LIMIT)
@shared_read
async def view(system: str) -> dict[str, Any]:
    cluster = current_system().cluster
    path = query_path()
    size, offset = query_int("size"), query_int("offset") or 0
    async with lease() as held:
        return {"output": await ops.view(held, path, offset=offset, size=size, limit=cluster.max_ops_file_size)}


@filesystem.get("/<system>/ops/checksum")
@operation("SHA-256 of a file", tag="filesystem", firecrest="get_checksum", response="GetFileChecksumResponse", query=(_PATH,))
@shared_read
async def checksum(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.checksum)


@filesystem.get("/<system>/ops/file")
@operation("The type of a file (file -b)", tag="filesystem", firecrest="get_file", response="GetFileTypeResponse", query=(_PATH,))
@shared_read
async def file_type(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.file_type)


@filesystem.get("/<system>/ops/stat")
@operation("stat of a file", tag="filesystem", firecrest="get_stat", response="GetFileStatResponse", query=(_PATH, _B("dereference")))
@shared_read
async def stat(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.stat, dereference=query_bool("dereference"))


async def _on_path(system: str, op: Callable[..., Awaitable[Any]], **options: Any) -> dict[str, Any]:
    """Run `op(held, path, **options)` on the checked `path` query parameter; FirecREST's `{output}`."""
    path = query_path()
    async with lease() as held:
        return {"output": await op(held, path, **options)}


@filesystem.get("/<system>/ops/download")
@operation("Download a small file (raw bytes)", tag="filesystem", firecrest="get_download", response=bytes, query=(_PATH,), description=_LIMIT + " Larger files: /transfer/download.")
async def download(system: str) -> Response:
    cluster = current_system().cluster
    path = query_path()
    async with lease() as held:
        data = await ops.download(held, path, limit=cluster.max_ops_file_size)
    return Response(data, status=200, content_type="application/octet-stream")


# --------------------------------------------------------------------------- changing


@filesystem.delete("/<system>/ops/rm")
@operation("Delete a file or directory tree", tag="filesystem", firecrest="delete_rm", status=204, query=(_PATH,))
async def rm(system: str) -> Response:
    cluster = current_system().cluster
    path = query_path()
    if any(path == fs.path for fs in cluster.file_systems):
        raise BadRequest(f"{path!r} is the root of a file system and cannot be removed through the API")
    async with lease() as held:
        await ops.rm(held, path)
    return _no_content()


@filesystem.post("/<system>/ops/mkdir")
@operation("Create a directory", tag="filesystem", firecrest="post_mkdir", status=201, body="PostMakeDirRequest", response="PostMkdirResponse")
async def mkdir(system: str) -> tuple[dict[str, Any], int]:
    body = await json_body()
    path = source_path(body)
    parents = body_bool(body, "parent", "parents")
    async with lease() as held:
        return {"output": await ops.mkdir(held, path, parents=parents)}, 201


@filesystem.post("/<system>/ops/symlink")
@operation("Create a symbolic link", tag="filesystem", firecrest="post_symlink", status=201, body="PostFileSymlinkRequest",
           response="PostFileSymlinkResponse")
async def symlink(system: str) -> tuple[dict[str, Any], int]:
    body = await json_body()
    target = source_path(body)
    link = body_path(body, "linkPath", "link_path")
    async with lease() as held:
        return {"output": await ops.symlink(held, target, link)}, 201


@filesystem.put("/<system>/ops/chmod")
@operation("Change a file's mode (octal or symbolic)", tag="filesystem", firecrest="put_chmod", body="PutFileChmodRequest",
           response="PutFileChmodResponse")
async def chmod(system: str) -> dict[str, Any]:
    body = await json_body()
    path = source_path(body)
    mode = field(body, "mode", required=True)
    async with lease() as held:
        return {"output": await ops.chmod(held, path, mode)}


@filesystem.put("/<system>/ops/chown")
@operation("Change a file's owner and group", tag="filesystem", firecrest="put_chown", body="PutFileChownRequest",
           response="PutFileChownResponse")
async def chown(system: str) -> dict[str, Any]:
    body = await json_body()
    path = source_path(body)
    owner, group = field(body, "owner", default=""), field(body, "group", default="")
    async with lease() as held:
        return {"output": await ops.chown(held, path, owner, group)}


@filesystem.post("/<system>/ops/upload")
@operation("Upload a small file (multipart form field `file`) into a directory", tag="filesystem", firecrest="post_upload", status=204, body="UploadForm", form=True, query=(_PATH,), description=_LIMIT + " Larger files: /transfer/upload.")
async def upload(system: str) -> Response:
    cluster = current_system().cluster
    directory = query_path()
    limit = cluster.max_ops_file_size
    too_large = PayloadTooLarge(
        f"the file is larger than the inline upload limit of {limit} bytes (max_ops_file_size); "
        "use /transfer/upload"
    )
    if request.content_length is not None and request.content_length > limit + _FORM_OVERHEAD:
        raise too_large
    files = await request.files
    upload = files.get("file")
    if upload is None:
        raise invalid("body", "file", "field required (multipart form field `file`)")
    name = check_file_name(upload.filename, field="filename")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    target = checked_path(f"{directory}/{name}", field="path")
    async with lease() as held:
        await ops.upload(held, target, data)
    return _no_content()


@attrs.frozen
class TarRequest:
    """A checked compress or extract request body (ops and transfer alike)."""

    source: str
    target: str
    compression: Compression
    dereference: bool = False
    match_pattern: str | None = None


def tar_request(body: dict[str, Any], *, compress: bool) -> TarRequest:
    """Check a compress (`compress=True`) or extract body. Raises ValidationFailed or BadRequest."""
    source = source_path(body)
    target = body_path(body, "targetPath", "target_path")
    if not compress:
        return TarRequest(source, target, compression_of(body))
    return TarRequest(source, target, compression_of(body), body_bool(body, "dereference"), match_pattern_of(body))


@filesystem.post("/<system>/ops/compress")
@operation("Create a tar archive", tag="filesystem", firecrest="post_compress", status=204, body="PostCompressRequest")
async def compress(system: str) -> Response:
    tar = tar_request(await json_body(), compress=True)
    async with lease() as held:
        await ops.compress(held, tar.source, tar.target, compression=tar.compression,
                           dereference=tar.dereference, match_pattern=tar.match_pattern)  # fmt: skip
    return _no_content()


@filesystem.post("/<system>/ops/extract")
@operation("Extract a tar archive into a directory", tag="filesystem", firecrest="post_extract", status=204,
           body="PostExtractRequest")
async def extract(system: str) -> Response:
    tar = tar_request(await json_body(), compress=False)
    async with lease() as held:
        await ops.extract(held, tar.source, tar.target, compression=tar.compression)
    return _no_content()
