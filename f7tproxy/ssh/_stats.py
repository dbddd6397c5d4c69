"""Frozen statistics of the SSH pool, for the admin socket and /metrics.

Built by `PoolSupervisor.statistics()` from live state in one step; readers
never see the live objects.
"""

from __future__ import annotations

import attrs

from ._breaker import BreakerStatistics


@attrs.frozen
class UserPoolStatistics:
    """One user's connections to one system."""

    user: str
    connections: int
    """Open connections (including ones being closed)."""
    connecting: int
    """Connections being opened (or waiting out a back-off after a failed attempt)."""
    slots: int
    """Channel slots on the open connections that take new leases."""
    slots_in_use: int
    """Leases held right now."""
    waiters: int
    """Callers waiting for a slot."""
    idle_seconds: float
    """Seconds since the last lease ended, while nothing is in use; 0 while busy."""
    leases: int
    """Leases granted."""
    commands: int
    """Remote commands started."""
    failures: int
    """Commands that failed on our side (timeout, output cap, lost connection) and failed connects."""
    busy: int
    """Leases refused because no slot freed up in time."""
    connects: int
    """Connections opened."""
    reconnects: int
    """Connections opened after one of this user's connections had broken."""
    drops: int
    """Connections that broke (closed by the server, failed keepalives, lost)."""
    reaped: int
    """Connections closed for being idle (or given up for another user)."""
    runner_starts: int = 0
    """Persistent runners started on this user's connections (restarts included)."""
    runner_restarts: int = 0
    """Runners started to replace one that died or stopped answering."""


@attrs.frozen
class SystemPoolStatistics:
    """One system's pool."""

    system: str
    connections: int
    """Connections open or being opened, all users together."""
    max_connections: int
    """The configured limit on `connections`."""
    users_waiting_to_connect: int
    """Users waiting for the global limit to allow another connection."""
    users: tuple[UserPoolStatistics, ...]
    breaker: BreakerStatistics
    """The system's circuit breaker."""


@attrs.frozen
class PoolStatistics:
    """The whole SSH pool."""

    systems: tuple[SystemPoolStatistics, ...]

    def user(self, system: str, user: str) -> UserPoolStatistics | None:
        """The statistics of `user` on `system`, if the pool knows them."""
        for s in self.systems:
            if s.system == system:
                return next((u for u in s.users if u.user == user), None)
        return None
