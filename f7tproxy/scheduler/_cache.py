"""Brief reuse of slow-changing answers: partitions, nodes, reservations, a user's uid/groups/accounts.

Every remote command costs the login node an sshd session and a fork, so a
status route asked fifty times a second by one portal should not run fifty
`sinfo`s: each system's answers are kept in `TtlCache`s (`f7tproxy.coalesce`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..coalesce import Lookup, TtlCache
from ..config import ClusterConfig
from ._models import Node, Partition, Reservation, UserInfo


@attrs.frozen
class StatusCaches:
    """One system's caches of slow-changing answers, keyed by `scope(user)`."""

    nodes: TtlCache[str, list[Node]]
    partitions: TtlCache[str, list[Partition]]
    reservations: TtlCache[str, list[Reservation]]
    userinfo: TtlCache[str, UserInfo]
    """Always per user."""
    shared: bool = False

    def scope(self, user: str) -> str:
        """The key of `user`'s nodes, partitions and reservations (one for all users when shared)."""
        return "" if self.shared else user


def status_caches(cluster: ClusterConfig, count: Callable[[str, Lookup], None] | None = None) -> StatusCaches:
    """The caches of `cluster` as its `cache` section sets them; `count(kind, how)` hears every lookup."""
    config = cluster.cache

    def make(kind: str, ttl: float) -> TtlCache[str, Any]:
        on_lookup = None if count is None else (lambda how: count(kind, how))
        return TtlCache(ttl=ttl, max_entries=config.max_entries, on_lookup=on_lookup)

    return StatusCaches(
        nodes=make("nodes", config.nodes),
        partitions=make("partitions", config.partitions),
        reservations=make("reservations", config.reservations),
        userinfo=make("userinfo", config.userinfo),
        shared=config.shared,
    )


__all__ = ["Lookup", "StatusCaches", "TtlCache", "status_caches"]
