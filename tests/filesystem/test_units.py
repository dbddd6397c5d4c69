"""Path checks, command builders and output readers, without a cluster."""

from __future__ import annotations

import pytest

from f7tproxy.config import ClusterConfig, FileSystemConfig, SshConfig, StaticKeysCredentials
from f7tproxy.errors import BadRequest, Forbidden, InternalError, NotFound, RequestTimeout
from f7tproxy.filesystem import _commands as cmd
from f7tproxy.filesystem import check_file_name, check_path, command_error, normalise
from f7tproxy.filesystem._parse import parse_checksum, parse_ls, parse_stat
from f7tproxy.filesystem._paths import glob_escape
from f7tproxy.ssh import CommandResult

CLUSTER = ClusterConfig(
    name="c",
    ssh=SshConfig(host="h", known_hosts="/k", credentials=StaticKeysCredentials(mode="static_keys")),  # type: ignore[arg-type]
    file_systems=(FileSystemConfig("/home"), FileSystemConfig("/scratch/x")),
)


@pytest.mark.parametrize(("raw", "want"), [
    ("/home/u", "/home/u"), ("//home//u/./", "/home/u"), ("/home/u/../v", "/home/v"),
    ("/home", "/home"), ("/scratch/x/$(id)", "/scratch/x/$(id)"), ("/home/u/-rf", "/home/u/-rf"),
    ("/home/a\nb", "/home/a\nb"), ("/home/'\"`", "/home/'\"`"),
])  # fmt: skip
def test_check_path_accepts_and_normalises(raw: str, want: str) -> None:
    assert check_path(CLUSTER, raw) == want


@pytest.mark.parametrize("raw", [
    "", "home/u", "/etc/passwd", "/", "/home/../etc", "/homes", "/scratch/xy", "/scratch",
    "/home/a\0b", "/home/" + "n" * 256, "/home/" + "d/" * 2048, None, 5, ["/home"],
])  # fmt: skip
def test_check_path_refuses(raw: object) -> None:
    with pytest.raises(BadRequest):
        check_path(CLUSTER, raw)


def test_normalise_unicode_limit_counts_bytes() -> None:
    assert normalise("/home/" + "é" * 127) == "/home/" + "é" * 127
    with pytest.raises(BadRequest):
        normalise("/home/" + "é" * 128)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "a\0b", "x" * 256])
def test_check_file_name_refuses(name: str) -> None:
    with pytest.raises(BadRequest):
        check_file_name(name)


def test_check_file_name_takes_hostile_but_valid_names() -> None:
    for name in ("-rf", "$(id)", "a\nb", "'", "..."):
        assert check_file_name(name) == name


def test_paths_come_after_double_dash_or_in_operands() -> None:
    p = "/home/u/-x"
    for argv in (cmd.head_argv(p, count=1, unit="lines", skip_trailing=False), cmd.checksum_argv(p),
                 cmd.file_argv(p), cmd.stat_argv(p, dereference=True), cmd.rm_argv(p),
                 cmd.mkdir_argv(p, parents=True), cmd.cat_argv(p)):  # fmt: skip
        assert argv[-2:] == ("--", p)
    assert cmd.symlink_argv("/a", "/b")[-3:] == ("--", "/a", "/b")
    assert cmd.chmod_argv(p, "u+x") == ("chmod", "--", "u+x", p)
    assert cmd.chown_argv(p, "u", "") == ("chown", "--", "u", p)
    assert cmd.chown_argv(p, "", "g") == ("chown", "--", ":g", p)
    assert cmd.view_argv(p, offset=3, size=4)[:2] == ("dd", f"if={p}")
    assert cmd.write_argv(p)[:2] == ("dd", f"of={p}")


def test_ls_argv() -> None:
    argv = cmd.ls_argv("/home/[u]*", recursive=False)
    assert argv[:6] == ("find", "-P", "--", "/home/[u]*", "-maxdepth", "1")
    assert "/home/\\[u\\]\\*" in argv
    assert "-maxdepth" not in cmd.ls_argv("/h", recursive=True)
    assert cmd.ls_argv("/h", dereference=True)[1] == "-L"
    assert "-prune" not in cmd.ls_argv("/h", show_hidden=True)
    assert cmd.ls_argv("/h", itself=True)[4:6] == ("-maxdepth", "0")
    assert glob_escape("a*b?c[d]\\") == "a\\*b\\?c\\[d\\]\\\\"


def test_compress_argv_with_pattern_keeps_shell_text_constant() -> None:
    plain = cmd.compress_argv("/h/d", "/h/d.tgz", compression="gzip", dereference=True, match_pattern=None)
    assert plain[0] == "tar" and plain[-4:] == ("--directory", "/h", "--", "d")
    assert "--no-unquote" in plain and "--dereference" in plain
    one = cmd.compress_argv("/h/$(x)", "/t", compression="xz", dereference=False, match_pattern="'; rm -rf ~")
    two = cmd.compress_argv("/h/y", "/u", compression="xz", dereference=False, match_pattern=".*")
    assert one[:4] == two[:4] == ("bash", "-c", one[2], "tar") and "$(x)" not in one[2]
    assert one[4:6] == ("/h/$(x)", "'; rm -rf ~")


def _entry(depth: int, mode: str, name: str, link: str = "", size: str = "1") -> bytes:
    fields = [str(depth), mode, "u", "g", size, "2025-01-02T03:04:05.123456789", link, name]
    return b"".join(f.encode() + b"\0" for f in fields)


def test_parse_ls_directory_file_and_newlines() -> None:
    out = (_entry(0, "drwxr-xr-x", "") + _entry(1, "-rw-r--r--", "b\nc") + _entry(1, "lrwxrwxrwx", "a", "t")
           + _entry(2, "-rw-------", "d/e"))  # fmt: skip
    entries = parse_ls(out, "/home/u")
    assert [e["name"] for e in entries] == ["a", "b\nc", "d/e"]
    assert entries[0] == {"name": "a", "type": "l", "linkTarget": "t", "user": "u", "group": "g",
                          "permissions": "rwxrwxrwx", "lastModified": "2025-01-02T03:04:05", "size": "1"}  # fmt: skip
    assert entries[1]["linkTarget"] is None
    only = parse_ls(_entry(0, "-rw-r--r--", ""), "/home/u/f")
    assert [e["name"] for e in only] == ["/home/u/f"]
    assert parse_ls(_entry(0, "drwx------", ""), "/home/u/d", itself=True)[0]["name"] == "/home/u/d"
    with pytest.raises(InternalError):
        parse_ls(b"1\0broken", "/x")


def test_parse_stat_and_checksum() -> None:
    assert parse_stat("81a4 12 2049 1 1000 1000 5 1 2 3\n") == {
        "mode": 0o100644, "ino": 12, "dev": 2049, "nlink": 1, "uid": 1000, "gid": 1000, "size": 5,
        "atime": 1, "mtime": 2, "ctime": 3}  # fmt: skip
    with pytest.raises(InternalError):
        parse_stat("nope")
    digest = "a" * 64
    assert parse_checksum(f"{digest}  /x\n") == {"algorithm": "SHA256", "checksum": digest}
    assert parse_checksum(f"\\{digest}  /a\\nb\n")["checksum"] == digest


@pytest.mark.parametrize(("status", "stderr", "error"), [
    (124, "", RequestTimeout), (1, "ls: x: No such file or directory", NotFound),
    (1, "x: Permission denied", Forbidden), (1, "chown: Operation not permitted", Forbidden),
    (1, "mkdir: File exists", BadRequest), (1, "chown: invalid user: 'x'", BadRequest), (2, "boom", InternalError),
    (1, "sha256sum: /home/u: Is a directory", BadRequest), (2, "ls: cannot access '/a/f/x': Not a directory", BadRequest),
    (1, "stat: cannot stat '/a/loop': Too many levels of symbolic links", BadRequest),
    (2, "gzip: stdin: not in gzip format\ntar: Child returned status 1", BadRequest),
    (2, "tar: This does not look like a tar archive", BadRequest),
])  # fmt: skip
def test_command_error_mapping(status: int, stderr: str, error: type) -> None:
    exc = command_error(CommandResult(("x",), status, None, b"", stderr.encode()))
    assert type(exc) is error
    assert exc.message.startswith(f"Remote process failed with exit status:{status} and error message:")
