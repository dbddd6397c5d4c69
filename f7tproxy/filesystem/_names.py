"""Owner and group names of listed files, kept per cluster.

find(1) printing owner names (`%u`, `%g`) asks the login node's name service for
every listing: in the testbed that was a quarter of find's CPU (0.4 of 1.5 ms), and
on a cluster whose names come from LDAP through sssd it is a round trip to a daemon
or a directory. A listing instead prints the numbers (`%U`, `%G`) and `OwnerNames`
turns them into names: from what it keeps, else with one `getent passwd` and one
`getent group` on the same lease for all the numbers it lacks. A number without a
name stays a number, as find prints it. Names are kept `ttl` seconds (the cluster's
`cache.names`), at most `max_entries` of each kind; a renamed user shows under the
old name until then.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Literal

import trio

from ..ssh import Runner
from ._parse import checked

Kind = Literal["passwd", "group"]


class OwnerNames:
    """uid -> user name and gid -> group name of one cluster, looked up with getent(1)."""

    def __init__(
        self, *, ttl: float, max_entries: int, on_lookup: Callable[[Literal["hit", "miss"]], None] | None = None
    ) -> None:
        """`on_lookup("hit" | "miss")` hears each listing's resolution (for metrics)."""
        self.ttl = ttl
        self.max_entries = max_entries
        self._on_lookup = on_lookup
        # Insertion order is expiry order (one ttl for all): the oldest entry is first.
        self._kept: dict[Kind, collections.OrderedDict[int, tuple[float, str]]] = {
            "passwd": collections.OrderedDict(),
            "group": collections.OrderedDict(),
        }

    async def resolve(
        self, run: Runner, uids: Iterable[int], gids: Iterable[int]
    ) -> tuple[dict[int, str], dict[int, str]]:
        """The names of `uids` and `gids`, those not kept looked up on `run`'s login node."""
        now = trio.current_time()
        users, missing_users = self._known("passwd", uids, now)
        groups, missing_groups = self._known("group", gids, now)
        if self._on_lookup is not None:
            self._on_lookup("miss" if missing_users or missing_groups else "hit")
        if missing_users:
            users.update(await self._look_up(run, "passwd", missing_users))
        if missing_groups:
            groups.update(await self._look_up(run, "group", missing_groups))
        return users, groups

    def _known(self, kind: Kind, ids: Iterable[int], now: float) -> tuple[dict[int, str], list[int]]:
        kept = self._kept[kind]
        known: dict[int, str] = {}
        missing: list[int] = []
        for number in ids:
            entry = kept.get(number)
            if entry is not None and entry[0] > now:
                known[number] = entry[1]
            else:
                missing.append(number)
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
        self._keep(kind, names, trio.current_time())
        return names

    def _keep(self, kind: Kind, names: dict[int, str], now: float) -> None:
        if self.ttl <= 0:
            return
        kept = self._kept[kind]
        for number, name in names.items():
            kept.pop(number, None)
            kept[number] = (now + self.ttl, name)
        while kept:
            oldest, (expires, _) = next(iter(kept.items()))
            if expires > now and len(kept) <= self.max_entries:
                break
            del kept[oldest]


__all__ = ["OwnerNames"]
