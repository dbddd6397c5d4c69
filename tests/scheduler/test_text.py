"""Unforgeable separators and record cutting: free text never breaks a record."""

from __future__ import annotations

import pytest

from f7tproxy.scheduler._text import duration, new_separator, parse_id, split_fields, split_joined

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
