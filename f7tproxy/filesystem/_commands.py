"""Argument lists of the remote commands behind each filesystem op.

Every builder returns a tuple of words; the SSH pool quotes each one and runs
the line under `timeout`. Paths come after `--`, or in a `if=`/`of=` operand of
dd (absolute paths start with '/', so they cannot be read as options). Where a
pipeline is needed, the shell text is a constant and the data follows as
positional parameters (`bash -c SCRIPT bash ARG...`).

The paths given here are already checked (see `_paths.check_path`).
"""

from __future__ import annotations

from typing import Literal

from ._paths import glob_escape

Compression = Literal["none", "bzip2", "gzip", "xz"]
COMPRESSIONS: tuple[Compression, ...] = ("none", "bzip2", "gzip", "xz")
_TAR_FLAG: dict[str, tuple[str, ...]] = {"none": (), "bzip2": ("--bzip2",), "gzip": ("--gzip",), "xz": ("--xz",)}

LS_FIELDS = 8
"""Fields per entry printed by `ls_argv`, each followed by NUL."""
_LS_FORMAT = r"%d\0%M\0%u\0%g\0%s\0%TY-%Tm-%TdT%TT\0%l\0%P\0"
_LS_FORMAT_NUMERIC = r"%d\0%M\0%U\0%G\0%s\0%TY-%Tm-%TdT%TT\0%l\0%P\0"


def ls_argv(
    path: str,
    *,
    show_hidden: bool = False,
    numeric_uid: bool = False,
    recursive: bool = False,
    dereference: bool = False,
    itself: bool = False,
) -> tuple[str, ...]:
    """find(1) printing NUL-separated fields per entry (names may hold newlines).

    Fields: depth, mode string (`ls -l` style), user, group, size, mtime,
    link target, name relative to `path`. `itself` lists only `path` (`ls -d`).
    """
    argv: list[str] = ["find", "-L" if dereference else "-P", "--", path]
    if itself:
        argv += ["-maxdepth", "0"]
    elif not recursive:
        argv += ["-maxdepth", "1"]
    if not show_hidden and not itself:
        # Hidden entries below `path` are skipped, and hidden directories not entered (as `ls -R`).
        argv += ["(", "!", "-path", glob_escape(path), "-name", ".*", "-prune", ")", "-o"]
    argv += ["-printf", _LS_FORMAT_NUMERIC if numeric_uid else _LS_FORMAT]
    return tuple(argv)


def head_argv(path: str, *, count: int, unit: Literal["bytes", "lines"], skip_trailing: bool) -> tuple[str, ...]:
    """head(1): the first `count` lines/bytes, or all but the last `count` with `skip_trailing`."""
    sign = "-" if skip_trailing else ""
    return ("head", f"--{unit}={sign}{count}", "--", path)


def tail_argv(path: str, *, count: int, unit: Literal["bytes", "lines"], skip_heading: bool) -> tuple[str, ...]:
    """tail(1): the last `count` lines/bytes, or from the `count`-th on with `skip_heading`."""
    sign = "+" if skip_heading else ""
    return ("tail", f"--{unit}={sign}{count}", "--", path)


def view_argv(path: str, *, offset: int, size: int) -> tuple[str, ...]:
    """dd(1) copying `size` bytes from byte `offset` to stdout."""
    return (
        "dd", f"if={path}", "iflag=skip_bytes,count_bytes,fullblock",
        f"skip={offset}", f"count={size}", "bs=65536", "status=none",
    )  # fmt: skip


def cat_argv(path: str) -> tuple[str, ...]:
    """cat(1): the whole file to stdout (inline download)."""
    return ("cat", "--", path)


def write_argv(path: str) -> tuple[str, ...]:
    """dd(1) writing stdin to `path` (created or truncated; inline upload)."""
    return ("dd", f"of={path}", "bs=65536", "status=none")


def checksum_argv(path: str) -> tuple[str, ...]:
    return ("sha256sum", "--", path)


def file_argv(path: str) -> tuple[str, ...]:
    """file(1) brief output; `-E` makes a missing file an error rather than output."""
    return ("file", "-E", "-b", "--", path)


def stat_argv(path: str, *, dereference: bool) -> tuple[str, ...]:
    """stat(1) printing mode (hex), ino, dev, nlink, uid, gid, size, atime, mtime, ctime."""
    fmt = "%f %i %d %h %u %g %s %X %Y %Z"
    return ("stat", *(("--dereference",) if dereference else ()), "-c", fmt, "--", path)


def rm_argv(path: str) -> tuple[str, ...]:
    return ("rm", "-r", "--interactive=never", "--", path)


def mkdir_argv(path: str, *, parents: bool) -> tuple[str, ...]:
    return ("mkdir", *(("-p",) if parents else ()), "--", path)


def symlink_argv(target: str, link: str) -> tuple[str, ...]:
    return ("ln", "-s", "--", target, link)


def chmod_argv(path: str, mode: str) -> tuple[str, ...]:
    return ("chmod", "--", mode, path)


def chown_argv(path: str, owner: str, group: str) -> tuple[str, ...]:
    spec = f"{owner}:{group}" if group else owner
    return ("chown", "--", spec or ":", path)


def cp_argv(source: str, target: str, *, dereference: bool) -> tuple[str, ...]:
    return ("cp", "--force", "-RL" if dereference else "-Rd", "--preserve=all", "--", source, target)


def mv_argv(source: str, target: str) -> tuple[str, ...]:
    return ("mv", "--", source, target)


_COMPRESS_MATCHING = (
    'cd -- "$1" || exit; shift; pattern=$1; shift; '
    'find . -type f -regex "$pattern" -print0 | tar "$@" --null --verbatim-files-from --files-from=-'
)


def compress_argv(
    source: str,
    target: str,
    *,
    compression: Compression,
    dereference: bool,
    match_pattern: str | None,
) -> tuple[str, ...]:
    """tar(1) archiving `source` (relative to its parent) into `target`.

    With `match_pattern`, only the regular files below `source` whose path
    (`./...`) matches that find(1) regex are archived.
    """
    parent, _, name = source.rpartition("/")
    options = (
        # --no-unquote: names are taken as they are (tar would read '\\' escapes in them).
        "--create", "--force-local", "--no-unquote", *_TAR_FLAG[compression],
        *(("--dereference",) if dereference else ()), f"--file={target}",
    )  # fmt: skip
    if match_pattern is not None:
        return ("bash", "-c", _COMPRESS_MATCHING, "tar", source, match_pattern, *options)  # $0 names the program
    return ("tar", *options, "--directory", parent or "/", "--", name or ".")


def extract_argv(source: str, target: str, *, compression: Compression) -> tuple[str, ...]:
    """tar(1) extracting `source` into the directory `target`."""
    return (
        "tar", "--extract", "--force-local", "--no-unquote", *_TAR_FLAG[compression],
        f"--file={source}", "--directory", target,
    )  # fmt: skip
