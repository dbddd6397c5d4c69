"""Filesystem ops routes (FirecREST's /filesystem/{system}/ops group).

Each route checks its inputs (paths through `checked_path`, which also gates on the
health of the path's file system), takes one SSH lease
as the calling user and runs the op (`f7tproxy.filesystem.ops`). Request bodies
accept FirecREST's aliases: the source as `sourcePath`, `source_path` or `path`,
and every other field in camelCase or snake_case.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
from quart import Blueprint, Response, current_app, request

from ..config import ClusterConfig
from ..errors import BadRequest, PayloadTooLarge, ValidationFailed
from ..filesystem import COMPRESSIONS, Compression, check_file_name, check_path, ops
from ..ssh import Lease
from . import _wire
from ._auth import current_user
from ._openapi import Param, operation
from ._systems import system_or_404

filesystem = Blueprint("filesystem", __name__, url_prefix="/filesystem")

_PATH = Param("path", {"type": "string"}, "Absolute path inside one of the system's file systems (required)")
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


@contextlib.asynccontextmanager
async def lease_for(cluster: ClusterConfig) -> AsyncIterator[Lease]:
    """An SSH lease on `cluster` as the calling user."""
    user = current_user()
    async with current_app.runtime.pool.lease(cluster.name, user.name, user.token) as lease:  # type: ignore[attr-defined]
        yield lease


def _invalid(location: str, name: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{location} `{name}`: {message}", data={"fields": [{"location": location, "name": name, "message": message}]}
    )


def query_bool(name: str, default: bool = False) -> bool:
    return _wire.query_bool(request.args, name, default)


_INTEGER = re.compile(r"-?[0-9]{1,18}")


def query_int(name: str) -> int | None:
    """Integer query parameter, or None if absent. Raises ValidationFailed."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    # int() would also take " 12\n", "1_000" and non-ASCII digits.
    if not _INTEGER.fullmatch(raw):
        raise _invalid("query", name, f"expected an integer, got {raw!r}")
    return int(raw)


def checked_path(cluster: ClusterConfig, raw: object, *, field: str) -> str:
    """`check_path`, then the gate of the file system holding the path (503 while it is seen unhealthy)."""
    path = check_path(cluster, raw, field=field)
    current_app.runtime.health.gate_path(cluster.name, path)  # type: ignore[attr-defined]
    return path


def query_path(cluster: ClusterConfig, name: str = "path") -> str:
    """The checked path in query parameter `name`. Raises ValidationFailed (missing), BadRequest or ServiceUnavailable."""
    if name not in request.args:
        raise _invalid("query", name, "field required")
    return checked_path(cluster, request.args[name], field=name)


async def json_body() -> dict[str, Any]:
    """The request's JSON object. Raises ValidationFailed if there is none."""
    body = await request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise _invalid("body", "body", "expected a JSON object")
    return body


def field(body: dict[str, Any], *names: str, required: bool = False, default: Any = None) -> Any:
    """The first of `names` present in `body` (aliases). Raises ValidationFailed if required and absent."""
    for name in names:
        if name in body and body[name] is not None:
            return body[name]
    if required:
        raise _invalid("body", names[0], "field required")
    return default


def body_bool(body: dict[str, Any], *names: str, default: bool = False) -> bool:
    value = field(body, *names, default=default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _invalid("body", names[0], f"expected a boolean, got {value!r}")


def body_path(cluster: ClusterConfig, body: dict[str, Any], *names: str) -> str:
    """The checked path under the first present of `names`."""
    return checked_path(cluster, field(body, *names, required=True), field=names[0])


def source_path(cluster: ClusterConfig, body: dict[str, Any]) -> str:
    """The checked source path: `sourcePath`, `source_path` or `path`."""
    return body_path(cluster, body, "sourcePath", "source_path", "path")


def compression_of(body: dict[str, Any]) -> Compression:
    value = field(body, "compression", default="gzip")
    if value not in COMPRESSIONS:
        raise _invalid("body", "compression", f"expected one of {', '.join(COMPRESSIONS)}, got {value!r}")
    return value  # type: ignore[no-any-return]


def match_pattern_of(body: dict[str, Any]) -> str | None:
    value = field(body, "matchPattern", "match_pattern")
    if value is not None and (not isinstance(value, str) or "\0" in value):
        raise _invalid("body", "matchPattern", "expected a regular expression string")
    return value


def _no_content() -> Response:
    return Response("", status=204)


# --------------------------------------------------------------------------- reading


@filesystem.get("/<system>/ops/ls")
@operation("List a directory (or describe a file)", tag="filesystem", query=(_PATH, _B("showHidden"), _B("numericUid"), _B("recursive"), _B("dereference")))
async def ls(system: str) -> dict[str, Any]:
    cluster = system_or_404(system)
    path = query_path(cluster)
    options = {
        "show_hidden": query_bool("showHidden"),
        "numeric_uid": query_bool("numericUid"),
        "recursive": query_bool("recursive"),
        "dereference": query_bool("dereference"),
    }
    async with lease_for(cluster) as lease:
        return {"output": await ops.ls(lease, path, **options)}


@filesystem.get("/<system>/ops/head")
@operation("The first lines or bytes of a file", tag="filesystem", query=(_PATH, _I("bytes"), _I("lines"), _B("skipTrailing")), description=_LIMIT)
async def head(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.head, skip_trailing=query_bool("skipTrailing"), **_part_of_file(system))


@filesystem.get("/<system>/ops/tail")
@operation("The last lines or bytes of a file", tag="filesystem", query=(_PATH, _I("bytes"), _I("lines"), _B("skipHeading")), description=_LIMIT)
async def tail(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.tail, skip_heading=query_bool("skipHeading"), **_part_of_file(system))


def _part_of_file(system: str) -> dict[str, Any]:
    return {
        "file_bytes": _non_negative("bytes"),
        "lines": _non_negative("lines"),
        "limit": system_or_404(system).max_ops_file_size,
    }


def _non_negative(name: str) -> int | None:
    value = query_int(name)
    if value is not None and value < 0:
        raise _invalid("query", name, "must be 0 or more")
    return value


@filesystem.get("/<system>/ops/view")
@operation("Part of a file as text", tag="filesystem", query=(_PATH, _I("size"), _I("offset")), description=_LIMIT + " `size` defaults to the rest of the file.")
async def view(system: str) -> dict[str, Any]:
    cluster = system_or_404(system)
    path = query_path(cluster)
    size, offset = query_int("size"), query_int("offset") or 0
    async with lease_for(cluster) as lease:
        return {"output": await ops.view(lease, path, offset=offset, size=size, limit=cluster.max_ops_file_size)}


@filesystem.get("/<system>/ops/checksum")
@operation("SHA-256 of a file", tag="filesystem", query=(_PATH,))
async def checksum(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.checksum)


@filesystem.get("/<system>/ops/file")
@operation("The type of a file (file -b)", tag="filesystem", query=(_PATH,))
async def file_type(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.file_type)


@filesystem.get("/<system>/ops/stat")
@operation("stat of a file", tag="filesystem", query=(_PATH, _B("dereference")))
async def stat(system: str) -> dict[str, Any]:
    return await _on_path(system, ops.stat, dereference=query_bool("dereference"))


async def _on_path(system: str, op: Callable[..., Awaitable[Any]], **options: Any) -> dict[str, Any]:
    """Run `op(lease, path, **options)` on the checked `path` query parameter; FirecREST's `{output}`."""
    cluster = system_or_404(system)
    path = query_path(cluster)
    async with lease_for(cluster) as lease:
        return {"output": await op(lease, path, **options)}


@filesystem.get("/<system>/ops/download")
@operation("Download a small file (raw bytes)", tag="filesystem", query=(_PATH,), description=_LIMIT + " Larger files: /transfer/download.")
async def download(system: str) -> Response:
    cluster = system_or_404(system)
    path = query_path(cluster)
    async with lease_for(cluster) as lease:
        data = await ops.download(lease, path, limit=cluster.max_ops_file_size)
    return Response(data, status=200, content_type="application/octet-stream")


# --------------------------------------------------------------------------- changing


@filesystem.delete("/<system>/ops/rm")
@operation("Delete a file or directory tree", tag="filesystem", status=204, query=(_PATH,))
async def rm(system: str) -> Response:
    cluster = system_or_404(system)
    path = query_path(cluster)
    if any(path == fs.path for fs in cluster.file_systems):
        raise BadRequest(f"{path!r} is the root of a file system and cannot be removed through the API")
    async with lease_for(cluster) as lease:
        await ops.rm(lease, path)
    return _no_content()


@filesystem.post("/<system>/ops/mkdir")
@operation("Create a directory", tag="filesystem", status=201)
async def mkdir(system: str) -> tuple[dict[str, Any], int]:
    cluster = system_or_404(system)
    body = await json_body()
    path = source_path(cluster, body)
    parents = body_bool(body, "parent", "parents")
    async with lease_for(cluster) as lease:
        return {"output": await ops.mkdir(lease, path, parents=parents)}, 201


@filesystem.post("/<system>/ops/symlink")
@operation("Create a symbolic link", tag="filesystem", status=201)
async def symlink(system: str) -> tuple[dict[str, Any], int]:
    cluster = system_or_404(system)
    body = await json_body()
    target = source_path(cluster, body)
    link = body_path(cluster, body, "linkPath", "link_path")
    async with lease_for(cluster) as lease:
        return {"output": await ops.symlink(lease, target, link)}, 201


@filesystem.put("/<system>/ops/chmod")
@operation("Change a file's mode (octal or symbolic)", tag="filesystem")
async def chmod(system: str) -> dict[str, Any]:
    cluster = system_or_404(system)
    body = await json_body()
    path = source_path(cluster, body)
    mode = field(body, "mode", required=True)
    async with lease_for(cluster) as lease:
        return {"output": await ops.chmod(lease, path, mode)}


@filesystem.put("/<system>/ops/chown")
@operation("Change a file's owner and group", tag="filesystem")
async def chown(system: str) -> dict[str, Any]:
    cluster = system_or_404(system)
    body = await json_body()
    path = source_path(cluster, body)
    owner, group = field(body, "owner", default=""), field(body, "group", default="")
    async with lease_for(cluster) as lease:
        return {"output": await ops.chown(lease, path, owner, group)}


@filesystem.post("/<system>/ops/upload")
@operation("Upload a small file (multipart form field `file`) into a directory", tag="filesystem", status=204, query=(_PATH,), description=_LIMIT + " Larger files: /transfer/upload.")
async def upload(system: str) -> Response:
    cluster = system_or_404(system)
    directory = query_path(cluster)
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
        raise _invalid("body", "file", "field required (multipart form field `file`)")
    name = check_file_name(upload.filename, field="filename")
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    target = checked_path(cluster, f"{directory}/{name}", field="path")
    async with lease_for(cluster) as lease:
        await ops.upload(lease, target, data)
    return _no_content()


@attrs.frozen
class TarRequest:
    """A checked compress or extract request body (ops and transfer alike)."""

    source: str
    target: str
    compression: Compression
    dereference: bool = False
    match_pattern: str | None = None


def tar_request(cluster: ClusterConfig, body: dict[str, Any], *, compress: bool) -> TarRequest:
    """Check a compress (`compress=True`) or extract body. Raises ValidationFailed or BadRequest."""
    source = source_path(cluster, body)
    target = body_path(cluster, body, "targetPath", "target_path")
    if not compress:
        return TarRequest(source, target, compression_of(body))
    return TarRequest(source, target, compression_of(body), body_bool(body, "dereference"), match_pattern_of(body))


@filesystem.post("/<system>/ops/compress")
@operation("Create a tar archive", tag="filesystem", status=204)
async def compress(system: str) -> Response:
    cluster = system_or_404(system)
    tar = tar_request(cluster, await json_body(), compress=True)
    async with lease_for(cluster) as lease:
        await ops.compress(lease, tar.source, tar.target, compression=tar.compression,
                           dereference=tar.dereference, match_pattern=tar.match_pattern)  # fmt: skip
    return _no_content()


@filesystem.post("/<system>/ops/extract")
@operation("Extract a tar archive into a directory", tag="filesystem", status=204)
async def extract(system: str) -> Response:
    cluster = system_or_404(system)
    tar = tar_request(cluster, await json_body(), compress=False)
    async with lease_for(cluster) as lease:
        await ops.extract(lease, tar.source, tar.target, compression=tar.compression)
    return _no_content()
