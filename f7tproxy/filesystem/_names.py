"""Owner and group names of listed files, kept per cluster.

find(1) printing owner names (`%u`, `%g`) asks the login node's name service for
every listing: in the testbed that was a quarter of find's CPU (0.4 of 1.5 ms), and
on a cluster whose names come from LDAP through sssd it is a round trip to a daemon
or a directory. A listing instead prints the numbers (`%U`, `%G`) and `OwnerNames`
turns them into names: from what it keeps, else with one `getent passwd` and one
`getent group` on the same lease for all the numbers it lacks. A number without a
name stays a number, as find prints it. Names are kept `ttl` seconds (the cluster's
`cache.names`), at most `max_entries` of each kind (a `TtlCache` each); a renamed user shows under the
old name until then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from ..coalesce import TtlCache
from ..ssh import Runner
from ._parse import checked

Kind = Literal["passwd", "group"]


class OwnerNames:
    """uid -> user name and gid -> group name of one cluster, looked up with getent(1)."""

    def __init__(
        self, *, ttl: float, max_entries: int, on_lookup: Callable[[Literal["hit", "miss"]], None] | None = None
    ) -> None:
        """`on_lookup("hit" | "miss")` hears each listing's resolution (for metrics)."""
        self._on_lookup = on_lookup
        self._kept: dict[Kind, TtlCache[int, str]] = {
            "passwd": TtlCache(ttl=ttl, max_entries=max_entries),
            "group": TtlCache(ttl=ttl, max_entries=max_entries),
        }

    async def resolve(
        self, run: Runner, uids: Iterable[int], gids: Iterable[int]
    ) -> tuple[dict[int, str], dict[int, str]]:
        """The names of `uids` and `gids`, those not kept looked up on `run`'s login node."""
        users, missing_users = self._known("passwd", uids)
        groups, missing_groups = self._known("group", gids)
        if self._on_lookup is not None:
            self._on_lookup("miss" if missing_users or missing_groups else "hit")
        if missing_users:
            users.update(await self._look_up(run, "passwd", missing_users))
        if missing_groups:
            groups.update(await self._look_up(run, "group", missing_groups))
        return users, groups

    def _known(self, kind: Kind, ids: Iterable[int]) -> tuple[dict[int, str], list[int]]:
        kept = self._kept[kind]
        known: dict[int, str] = {}
        missing: list[int] = []
        for number in ids:
            entry = kept.peek(number)
            if entry is None:
                missing.append(number)
            else:
                known[number] = entry[0]
        return known, missing

    async def _look_up(self, run: Runner, kind: Kind, numbers: list[int]) -> dict[int, str]:
        """`getent <kind> N...` (exit status 2: some have no entry; those stay numbers), kept."""
        result = await run.run(("getent", kind, *map(str, sorted(numbers))))
        if result.exit_status != 2:
            checked(result)
        names = {number: str(number) for number in numbers}
        for line in result.stdout_bytes.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            if len(fields) > 2 and fields[2].isascii() and fields[2].isdigit() and int(fields[2]) in names:
                names[int(fields[2])] = fields[0]
        for number, name in names.items():
            self._kept[kind].put(number, name)
        return names


__all__ = ["OwnerNames"]
