"""Frozen results of health probes, and what the API and the admin socket make of them."""

from __future__ import annotations

import datetime
import functools
from typing import Any, Literal

import attrs

from .._iso import iso_z

Service = Literal["ssh", "scheduler", "filesystem", "s3"]
SERVICES: tuple[Service, ...] = ("ssh", "scheduler", "filesystem", "s3")

STALE_AFTER_INTERVALS = 3
"""A result older than this many probe intervals (plus the probe's timeout) is stale.

A probe loop delivers a result at least every interval + timeout, so a stale
result means the checker itself is stuck or stopped. Unlike FirecREST, which
keeps serving its last answer, a stale result counts as unhealthy: the gate
refuses with 503, `/status/systems` shows it with `healthy: false`, and
`/status/liveness/` lists it.
"""


@attrs.frozen
class ServiceHealth:
    """The latest result of one probe (one service of one system; one path for a file system)."""

    system: str
    service: Service
    path: str | None = None
    """The file system's mount point (filesystem probes only)."""
    healthy: bool | None = None
    """None: not checked yet (requests are allowed, as in FirecREST)."""
    latency: float | None = None
    """Seconds the probe took."""
    message: str | None = None
    last_checked: datetime.datetime | None = None
    """Wall-clock time (UTC) the probe ended."""
    checked_at: float | None = None
    """trio clock time the probe ended (for ages and staleness)."""
    since: float | None = None
    """trio clock time the current state (healthy or not) began."""
    interval: float = 60.0
    timeout: float = 10.0
    next_due: float | None = None
    """trio clock time of the next scheduled run."""

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.system, self.service, self.path)

    @property
    def label(self) -> str:
        return f"{self.service} {self.path}" if self.path else self.service

    def age(self, now: float) -> float | None:
        """Seconds since the probe last ended, or None if it never ran."""
        return None if self.checked_at is None else now - self.checked_at

    def is_stale(self, now: float) -> bool:
        """Whether the result is too old to trust (see STALE_AFTER_INTERVALS)."""
        age = self.age(now)
        return age is not None and age > STALE_AFTER_INTERVALS * self.interval + self.timeout

    def effective(self, now: float) -> ServiceHealth:
        """This result as clients see it: a stale result becomes unhealthy, saying why."""
        if not self.is_stale(now):
            return self
        age = self.age(now) or 0.0
        return attrs.evolve(
            self,
            healthy=False,
            message=f"no fresh health check for {age:.0f} s (last result: {self.message})",
        )

    def to_firecrest(self) -> dict[str, Any]:
        """FirecREST's `servicesHealth` entry: serviceType, lastChecked, latency, healthy, message[, path]."""
        return dict(self._firecrest)  # a copy: callers may change theirs

    @functools.cached_property
    def _firecrest(self) -> dict[str, Any]:
        # Made once per result: /status/systems shows every result on every request.
        entry: dict[str, Any] = {
            "serviceType": self.service,
            "lastChecked": iso_z(self.last_checked),
            "latency": None if self.latency is None else round(self.latency, 6),
            "healthy": bool(self.healthy),
            "message": self.message,
        }
        if self.service == "filesystem":
            entry["path"] = self.path
        return entry

    def to_json(self, now: float) -> dict[str, Any]:
        """The admin socket's view: FirecREST's fields plus state ages and staleness."""
        return {
            **self.to_firecrest(),
            "system": self.system,
            "path": self.path,
            "healthy": self.healthy,
            "stale": self.is_stale(now),
            "age": _round(self.age(now)),
            "since": _round(None if self.since is None else now - self.since),
            "interval": self.interval,
            "nextIn": _round(None if self.next_due is None else max(0.0, self.next_due - now)),
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)
