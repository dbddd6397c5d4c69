"""Readers of the remote commands' output, and the mapping of their failures to API errors."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ApiError, BadRequest, Forbidden, InternalError, NotFound, RequestTimeout
from ..ssh import CommandResult
from ._commands import LS_FIELDS

TIMEOUT_EXIT = 124
"""coreutils `timeout`'s exit status when it stopped the command."""


_CALLERS_MISTAKES = (
    "File exists", "invalid user", "invalid group", "Is a directory", "Not a directory",
    "Too many levels of symbolic links", "Directory not empty",
    # extract: the file is not an archive of the compression asked for
    "does not look like a tar archive", "not in gzip format", "is not a bzip2 file", "File format not recognized",
)  # fmt: skip
"""Remote error texts that name a mistake in the request (FirecREST answers 500 to the later ones)."""


def command_error(result: CommandResult) -> ApiError:
    """The API error for a failed command, by FirecREST's rules on its exit status and stderr.

    124 (timeout): 408; "No such file or directory": 404; "Permission denied"
    or "Operation not permitted": 403; "File exists", "invalid user" and the
    caller's other mistakes (`_CALLERS_MISTAKES`: a directory where a file is
    needed, a file where a directory is, a symlink loop): 400; anything else: 500.
    The message is FirecREST's: `Remote process failed with exit status:N and
    error message:<stderr>` (clients look for substrings of it).
    """
    status = result.exit_status if result.exit_status is not None else f"signal {result.exit_signal}"
    # Some tools (file -E) report on stdout.
    text = (result.stderr or result.stdout).strip()
    message = f"Remote process failed with exit status:{status} and error message:{text}"
    if result.exit_status == TIMEOUT_EXIT:
        return RequestTimeout(message)
    if "No such file or directory" in text:
        return NotFound(message)
    if "Permission denied" in text or "Operation not permitted" in text:
        return Forbidden(message)
    if any(words in text for words in _CALLERS_MISTAKES):
        return BadRequest(message)
    return InternalError(message)


def checked(result: CommandResult) -> CommandResult:
    """`result` if the command succeeded. Raises `command_error(result)` otherwise."""
    if not result.ok:
        raise command_error(result)
    return result


def _entry(fields: list[str], at: int, name: str) -> dict[str, Any]:
    mode = fields[at + 1]
    kind = mode[:1]
    link = fields[at + 6]
    return {
        "name": name,
        "type": kind,
        "linkTarget": link if kind == "l" and link else None,
        "user": fields[at + 2],
        "group": fields[at + 3],
        "permissions": mode[1:],
        "lastModified": fields[at + 5].split(".", 1)[0],
        "size": fields[at + 4],
    }


def _by_path(entry: dict[str, Any]) -> list[str]:
    return entry["name"].split("/")  # type: ignore[no-any-return]


def parse_ls(output: bytes, path: str, *, itself: bool = False) -> list[dict[str, Any]]:
    """FirecREST `File` entries from `ls_argv`'s output.

    A directory lists its entries (named relative to it, `sub/name` when
    recursive), sorted by name; anything else, or `itself`, lists `path`
    as given. Raises InternalError on output it cannot read.
    """
    # Decoded once, then split: a NUL never belongs to a UTF-8 sequence, so each field decodes
    # as it would alone (bad bytes replaced); find prints sizes and times in ASCII.
    fields = output.decode("utf-8", "replace").split("\0")
    if fields[-1] != "" or (len(fields) - 1) % LS_FIELDS:
        raise InternalError("unreadable listing from the cluster")
    starts = range(0, len(fields) - 1, LS_FIELDS)
    root = next((at for at in starts if fields[at] == "0"), None)
    if root is None:
        raise InternalError("the cluster's listing lacks the listed path")
    if itself or not fields[root + 1].startswith("d"):
        return [_entry(fields, root, path)]
    entries = [_entry(fields, at, fields[at + 7]) for at in starts if fields[at] != "0"]
    entries.sort(key=_by_path)
    return entries


_STAT_KEYS = ("mode", "ino", "dev", "nlink", "uid", "gid", "size", "atime", "mtime", "ctime")


def parse_stat(output: str) -> dict[str, int]:
    """FirecREST `FileStat` from `stat_argv`'s output (mode is printed in hex)."""
    words = output.split()
    if len(words) != len(_STAT_KEYS):
        raise InternalError(f"unreadable stat output from the cluster: {output!r}")
    try:
        values = [int(words[0], 16), *(int(w) for w in words[1:])]
    except ValueError:
        raise InternalError(f"unreadable stat output from the cluster: {output!r}") from None
    return dict(zip(_STAT_KEYS, values, strict=True))


_SHA256 = re.compile(r"^\\?([0-9a-f]{64})\s")


def parse_checksum(output: str) -> dict[str, str]:
    """FirecREST `FileChecksum` from sha256sum's output (a leading `\\` marks an escaped name)."""
    m = _SHA256.match(output)
    if m is None:
        raise InternalError("unreadable sha256sum output from the cluster")
    return {"algorithm": "SHA256", "checksum": m.group(1)}
