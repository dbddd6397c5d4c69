"""Owner and group names of listings: looked up with getent once, kept, and never guessed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio

from f7tproxy.errors import InternalError
from f7tproxy.filesystem import OwnerNames
from f7tproxy.ssh import CommandResult

PASSWD = {0: "root:x:0:0:root:/root:/bin/bash", 1000: "alice:x:1000:1000::/home/alice:/bin/sh"}
GROUP = {0: "root:x:0:", 1000: "alice:x:1000:", 50: "staff:x:50:alice,bob"}


class Getent:
    """A login node answering getent(1) as glibc's does: the entries found, status 2 if any is missing."""

    def __init__(self, status: int | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.status = status

    async def run(self, argv: Sequence[str], **_: object) -> CommandResult:
        self.calls.append(tuple(argv))
        assert argv[0] == "getent"
        table = PASSWD if argv[1] == "passwd" else GROUP
        found = [table[int(n)] for n in argv[2:] if int(n) in table]
        status = self.status if self.status is not None else (0 if len(found) == len(argv) - 2 else 2)
        out = "".join(line + "\n" for line in found).encode()
        return CommandResult(tuple(argv), status, None, out if status in (0, 2) else b"", b"getent: cannot open database")


async def test_names_looked_up_once_and_kept(autojump_clock: trio.abc.Clock) -> None:
    heard: list[str] = []
    names = OwnerNames(ttl=60, max_entries=10, on_lookup=heard.append)
    getent = Getent()
    users, groups = await names.resolve(getent, {1000, 4242}, {50, 1000})
    assert users == {1000: "alice", 4242: "4242"}  # no entry: the number, as find prints it
    assert groups == {50: "staff", 1000: "alice"}
    assert getent.calls == [("getent", "passwd", "1000", "4242"), ("getent", "group", "50", "1000")]
    assert await names.resolve(getent, {1000}, {50}) == ({1000: "alice"}, {50: "staff"})
    assert len(getent.calls) == 2 and heard == ["miss", "hit"]
    # Only what is missing is asked for.
    assert await names.resolve(getent, {0, 1000}, {1000}) == ({0: "root", 1000: "alice"}, {1000: "alice"})
    assert getent.calls[2:] == [("getent", "passwd", "0")]


async def test_names_expire(autojump_clock: trio.abc.Clock) -> None:
    names = OwnerNames(ttl=60, max_entries=10)
    getent = Getent()
    await names.resolve(getent, {1000}, set())
    await trio.sleep(59)
    await names.resolve(getent, {1000}, set())
    assert len(getent.calls) == 1
    await trio.sleep(2)
    await names.resolve(getent, {1000}, set())
    assert len(getent.calls) == 2


async def test_names_bounded_and_ttl_zero_keeps_nothing(autojump_clock: trio.abc.Clock) -> None:
    names = OwnerNames(ttl=60, max_entries=2)
    getent = Getent()
    await names.resolve(getent, {0, 1000, 4242}, set())  # three kept at most two: the oldest go
    await names.resolve(getent, {0}, set())
    assert getent.calls[-1] == ("getent", "passwd", "0")
    never = OwnerNames(ttl=0, max_entries=10)
    await never.resolve(getent, {0}, set())
    await never.resolve(getent, {0}, set())
    assert getent.calls[-2:] == [("getent", "passwd", "0")] * 2


async def test_getent_failure_is_an_error_not_a_number() -> None:
    with pytest.raises(InternalError):
        await OwnerNames(ttl=60, max_entries=10).resolve(Getent(status=1), {1000}, set())
