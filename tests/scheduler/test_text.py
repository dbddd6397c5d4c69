"""Unforgeable separators and record cutting: free text never breaks a record."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from f7tproxy.scheduler._text import (
    duration,
    new_separator,
    parse_id,
    several,
    split_fields,
    split_joined,
    split_several,
)

HOSTILE = ['a|b', 'x "q" \'s\'', "tab\there", "two\nlines", "ü ñ 漢字", "", "|||", "\x1f"]


def test_separators_are_fresh() -> None:
    a, b = new_separator(), new_separator()
    assert a != b and a.startswith("\x1f") and a.endswith("\x1f") and len(a) == 18


@pytest.mark.parametrize("name", HOSTILE)
def test_split_fields_keeps_hostile_text(name: str) -> None:
    sep = new_separator()
    text = "".join(f"{i}{sep}{name}{sep}/w/{name}{sep}\n" for i in (1, 2, 3))
    assert split_fields(text, sep, 3) == [[str(i), name, f"/w/{name}"] for i in (1, 2, 3)]


@pytest.mark.parametrize("name", HOSTILE)
def test_split_joined_keeps_hostile_text(name: str) -> None:
    sep = new_separator()
    text = "".join(f"{i}{sep}{name}{sep}{i}\n" for i in (1, 2))
    assert split_joined(text, sep, 3) == [["1", name, "1"], ["2", name, "2"]]


def test_torn_output_is_an_error() -> None:
    sep = new_separator()
    with pytest.raises(ValueError):
        split_fields(f"1{sep}2{sep}\n3{sep}", sep, 2)
    with pytest.raises(ValueError):
        split_joined(f"1{sep}2", sep, 3)
    assert split_joined("", sep, 3) == [] and split_fields("", sep, 3) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0:00", 0), ("1:02", 62), ("01:00:00", 3600), ("1-00:00:00", 86400), ("2-03:04:05", 183845),
     ("UNLIMITED", None), ("N/A", None), ("garbage", None)],
)  # fmt: skip
def test_durations(text: str, seconds: int | None) -> None:
    assert duration(text) == seconds


def test_parse_id() -> None:
    info = parse_id("uid=1001(fireuser) gid=1001(fireuser) groups=1001(fireuser),27(sudo),1005(proj one)\n")
    assert info.user.name == "fireuser" and info.group.id == "1001"
    assert [g.name for g in info.groups] == ["fireuser", "sudo", "proj one"]
    with pytest.raises(ValueError):
        parse_id("nonsense")


def test_several_commands_run_as_one_and_come_apart() -> None:
    # The fixed shell text, run locally through a shell as the pool does: words arrive intact,
    # each command's output and exit status come back in order, none reads the caller's stdin.
    sep = new_separator()
    commands = [
        ["printf", "%s\\n", "$(touch /nonexistent/x)", "a|b \"q\"", "two\nlines"],
        ["bash", "-c", "echo to stderr >&2; exit 3"],
        ["printf", "%s", "no newline"],
        ["cat"],
    ]
    argv = several(commands, sep)
    done = subprocess.run(["sh", "-c", shlex.join(argv)], input="not for them", capture_output=True, text=True,
                          timeout=10, check=True)  # fmt: skip
    assert split_several(done.stdout, sep, 4) == [
        (0, "$(touch /nonexistent/x)\na|b \"q\"\ntwo\nlines\n"), (3, ""), (0, "no newline"), (0, ""),
    ]  # fmt: skip
    assert done.stderr == "to stderr\n"


def test_several_with_torn_output_is_an_error() -> None:
    sep = new_separator()
    for text in (f"out{sep}0{sep}", f"out{sep}0{sep}more", f"a{sep}x{sep}b{sep}0{sep}"):
        with pytest.raises(ValueError):
            split_several(text, sep, 2)

