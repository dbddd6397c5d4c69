"""The filesystem ops: one or two remote commands each, run as the user on one lease.

Each function takes an SSH pool lease and already checked paths
(`check_path`), and returns FirecREST's `output` value. The cluster's own
permissions decide what the user may touch: a refusal there comes back as 403.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from ..errors import BadRequest, OutputTooLarge, PayloadTooLarge
from ..ssh import Runner
from . import _commands as cmd
from ._names import OwnerNames
from ._parse import checked, parse_checksum, parse_ls, parse_stat


async def ls(
    run: Runner,
    path: str,
    *,
    show_hidden: bool = False,
    numeric_uid: bool = False,
    recursive: bool = False,
    dereference: bool = False,
    names: OwnerNames | None = None,
) -> list[dict[str, Any]]:
    """The entries of directory `path`, or `path` itself if it is not a directory.

    With `names`, find prints owner and group numbers, and `names` turns them into names.
    """
    by_number = numeric_uid or names is not None
    argv = cmd.ls_argv(
        path, show_hidden=show_hidden, numeric_uid=by_number, recursive=recursive, dereference=dereference
    )
    result = checked(await run.run(argv))
    entries = parse_ls(result.stdout_bytes, path)
    if names is not None and not numeric_uid:
        uids, gids = {int(e["user"]) for e in entries}, {int(e["group"]) for e in entries}
        users, groups = await names.resolve(run, uids, gids)
        for entry in entries:
            entry["user"] = users[int(entry["user"])]
            entry["group"] = groups[int(entry["group"])]
    return entries


async def ls_itself(run: Runner, path: str) -> dict[str, Any]:
    """`path`'s own entry (`ls -d`), as chmod, chown, mkdir and symlink return it."""
    result = checked(await run.run(cmd.ls_argv(path, itself=True)))
    return parse_ls(result.stdout_bytes, path, itself=True)[0]


Unit = Literal["bytes", "lines"]


def _count(file_bytes: int | None, lines: int | None) -> tuple[int, Unit]:
    if file_bytes is not None and lines is not None:
        raise BadRequest("Only one of `bytes` or `lines` can be specified.")
    if file_bytes is not None:
        return file_bytes, "bytes"
    return (10 if lines is None else lines), "lines"


async def head(
    run: Runner, path: str, *, file_bytes: int | None, lines: int | None, skip_trailing: bool, limit: int
) -> dict[str, Any]:
    """FirecREST `FileContent` of head(1). Raises PayloadTooLarge past `limit` bytes of output."""
    count, unit = _count(file_bytes, lines)
    argv = cmd.head_argv(path, count=count, unit=unit, skip_trailing=skip_trailing)
    return await _content(run, argv, limit, unit, (0, -count if skip_trailing else count))


async def tail(
    run: Runner, path: str, *, file_bytes: int | None, lines: int | None, skip_heading: bool, limit: int
) -> dict[str, Any]:
    """FirecREST `FileContent` of tail(1). Raises PayloadTooLarge past `limit` bytes of output."""
    count, unit = _count(file_bytes, lines)
    argv = cmd.tail_argv(path, count=count, unit=unit, skip_heading=skip_heading)
    return await _content(run, argv, limit, unit, (count if skip_heading else -count, -1))


async def _content(
    run: Runner, argv: Sequence[str], limit: int, unit: Unit, positions: tuple[int, int]
) -> dict[str, Any]:
    try:
        result = checked(await run.run(argv, output_limit=limit))
    except OutputTooLarge:
        raise PayloadTooLarge(
            f"the {argv[0]} output is larger than the limit of {limit} bytes (max_ops_file_size); ask for less"
        ) from None
    return {"content": result.stdout, "contentType": unit, "startPosition": positions[0], "endPosition": positions[1]}


async def view(run: Runner, path: str, *, offset: int, size: int | None, limit: int) -> str:
    """`size` bytes of the file from `offset` (decoded as UTF-8, bad bytes replaced).

    Without `size`, the rest of the file, which must fit in `limit` bytes.
    Raises BadRequest (negative offset, size <= 0), PayloadTooLarge (size or
    the rest of the file past `limit`).
    """
    if offset < 0:
        raise BadRequest("`offset` value must be an integer value equal or greater than 0")
    if size is not None and size <= 0:
        raise BadRequest("`size` value must be an integer value greater than 0")
    if size is not None and size > limit:
        raise PayloadTooLarge(f"`size` {size} is larger than the view limit of {limit} bytes (max_ops_file_size)")
    want = limit + 1 if size is None else size
    result = checked(await run.run(cmd.view_argv(path, offset=offset, size=want), output_limit=want))
    if size is None and len(result.stdout_bytes) > limit:
        raise PayloadTooLarge(
            f"{path} has more than {limit} bytes from offset {offset}, the view limit (max_ops_file_size); "
            "read it in parts with `size` and `offset`, or download it through /transfer/download"
        )
    return result.stdout


async def download(run: Runner, path: str, *, limit: int) -> bytes:
    """The whole file. Raises PayloadTooLarge if it is larger than `limit` bytes."""
    try:
        result = await run.run(cmd.cat_argv(path), output_limit=limit)
    except OutputTooLarge:
        raise PayloadTooLarge(
            f"{path} is larger than the inline download limit of {limit} bytes (max_ops_file_size); "
            "use /transfer/download"
        ) from None
    return checked(result).stdout_bytes


async def upload(run: Runner, path: str, data: bytes) -> None:
    """Write `data` to `path` (created, or truncated and overwritten)."""
    checked(await run.run(cmd.write_argv(path), stdin=data))


async def checksum(run: Runner, path: str) -> dict[str, str]:
    return parse_checksum(checked(await run.run(cmd.checksum_argv(path))).stdout)


async def file_type(run: Runner, path: str) -> str:
    return checked(await run.run(cmd.file_argv(path))).stdout.strip()


async def stat(run: Runner, path: str, *, dereference: bool = False) -> dict[str, int]:
    return parse_stat(checked(await run.run(cmd.stat_argv(path, dereference=dereference))).stdout)


async def rm(run: Runner, path: str) -> None:
    checked(await run.run(cmd.rm_argv(path)))


async def mkdir(run: Runner, path: str, *, parents: bool) -> dict[str, Any]:
    checked(await run.run(cmd.mkdir_argv(path, parents=parents)))
    return await ls_itself(run, path)


async def symlink(run: Runner, target: str, link: str) -> dict[str, Any]:
    checked(await run.run(cmd.symlink_argv(target, link)))
    return await ls_itself(run, link)


_MODE = re.compile(r"(?:[0-7]{1,4}|[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+(?:,[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+)*)")
_OWNER = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_.-]*\$?|[0-9]+)")


async def chmod(run: Runner, path: str, mode: object) -> dict[str, Any]:
    """chmod(1) with an octal (`755`) or symbolic (`u+x,go-w`) mode. Raises BadRequest for any other mode."""
    if not isinstance(mode, str) or not _MODE.fullmatch(mode):
        raise BadRequest(f"`mode` must be an octal or symbolic chmod mode, got {mode!r}")
    checked(await run.run(cmd.chmod_argv(path, mode)))
    return await ls_itself(run, path)


async def chown(run: Runner, path: str, owner: object, group: object) -> dict[str, Any]:
    """chown(1) to `owner` and/or `group` (names or numeric ids). Raises BadRequest for other names."""
    for field, value in (("owner", owner), ("group", group)):
        if not isinstance(value, str) or (value and (len(value) > 32 or not _OWNER.fullmatch(value))):
            raise BadRequest(f"`{field}` must be a user or group name or id, got {value!r}")
    assert isinstance(owner, str) and isinstance(group, str)
    checked(await run.run(cmd.chown_argv(path, owner, group)))
    return await ls_itself(run, path)


async def compress(
    run: Runner,
    source: str,
    target: str,
    *,
    compression: cmd.Compression,
    dereference: bool,
    match_pattern: str | None,
) -> None:
    argv = cmd.compress_argv(
        source, target, compression=compression, dereference=dereference, match_pattern=match_pattern
    )
    checked(await run.run(argv))


async def extract(run: Runner, source: str, target: str, *, compression: cmd.Compression) -> None:
    checked(await run.run(cmd.extract_argv(source, target, compression=compression)))
