"""Path checks: every path a request names is absolute, normalised and inside a configured file system.

Paths are data. They are never pasted into shell text: the SSH pool quotes every
argument, and commands put them after `--` (or in an `if=`/`of=` operand that
cannot be read as an option). So a path may hold quotes, spaces, `$()`,
backticks, newlines, a leading `-` or any unicode, and names exactly that file.
What no file can be named (an empty name, NUL, a component longer than
NAME_MAX, a path longer than PATH_MAX) is refused with 400 here.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from ..config import ClusterConfig
from ..errors import BadRequest

NAME_MAX = 255
"""Longest file name component in bytes (Linux)."""
PATH_MAX = 4095
"""Longest path in bytes, without the terminating NUL (Linux)."""


def normalise(raw: object, *, field: str = "path") -> str:
    """`raw` as an absolute, lexically normalised path.

    `..` and `.` are resolved lexically, repeated slashes collapse (a leading
    `//` too). Raises BadRequest if it is not a string, empty, relative, or
    cannot name a file (NUL, a component over NAME_MAX bytes, over PATH_MAX bytes).
    """
    if not isinstance(raw, str) or raw == "":
        raise BadRequest(f"`{field}` must be a non-empty string")
    if "\0" in raw:
        raise BadRequest(f"`{field}` contains a NUL character, which no file name can hold")
    if not raw.startswith("/"):
        raise BadRequest(f"`{field}` must be an absolute path, got {raw!r}")
    path = posixpath.normpath(raw)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    _check_length(path, field)
    return path


def _check_length(path: str, field: str) -> None:
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"`{field}` is not valid UTF-8") from None
    if len(encoded) > PATH_MAX:
        raise BadRequest(f"`{field}` is longer than {PATH_MAX} bytes")
    if len(encoded) > NAME_MAX and any(len(part) > NAME_MAX for part in encoded.split(b"/")):
        raise BadRequest(f"`{field}` has a component longer than {NAME_MAX} bytes")


def inside(path: str, roots: Iterable[str]) -> bool:
    """Whether normalised `path` is one of `roots` or below one of them."""
    for root in roots:
        if root == "/" or path == root or path.startswith(root + "/"):
            return True
    return False


def check_path(cluster: ClusterConfig, raw: object, *, field: str = "path") -> str:
    """`raw`, normalised, if it lies inside one of `cluster`'s file systems.

    Raises BadRequest otherwise (a cluster with no file systems accepts no path).
    """
    path = normalise(raw, field=field)
    if not inside(path, (fs.path for fs in cluster.file_systems)):
        raise BadRequest(f"`{field}` {path!r} is not inside a file system of system '{cluster.name}'")
    return path


def check_file_name(raw: object, *, field: str = "filename") -> str:
    """A single file name (no directory part), as the upload form gives it.

    Raises BadRequest for an empty name, `.`/`..`, a `/`, NUL or more than NAME_MAX bytes.
    """
    if not isinstance(raw, str) or raw in ("", ".", ".."):
        raise BadRequest(f"`{field}` must be a file name, got {raw!r}")
    if "/" in raw or "\0" in raw:
        raise BadRequest(f"`{field}` must be a single file name without '/' or NUL, got {raw!r}")
    _check_length(raw, field)
    return raw


_GLOB_ESCAPES = str.maketrans({c: "\\" + c for c in "*?[]\\"})


def glob_escape(path: str) -> str:
    """`path` as a find(1) `-path` pattern that matches only itself."""
    return path.translate(_GLOB_ESCAPES)
