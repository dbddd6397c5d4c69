"""What the admin socket reads and drives in the running process (`f7tproxy.runtime.Runtime` is one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..config import Config
from ..events import JobWatchers
from ..health import HealthChecker
from ..observability import Metrics, RequestStats
from ..ssh import PoolSupervisor
from ..transfer import Staging


class AdminSource(Protocol):
    """The parts the `snapshot`, `drain` and `check-now` commands need, and nothing else."""

    @property
    def config(self) -> Config: ...

    @property
    def started_at(self) -> float:
        """Wall-clock start time (seconds since the epoch)."""
        ...

    @property
    def pool(self) -> PoolSupervisor:
        """Pool statistics (snapshot) and `drain`."""
        ...

    @property
    def health(self) -> HealthChecker:
        """Probe results and events (snapshot) and `check_now`."""
        ...

    @property
    def requests(self) -> RequestStats: ...

    @property
    def metrics(self) -> Metrics:
        """What sharing saved, per system (`Metrics.sharing`), and the token cache's counts."""
        ...

    @property
    def events(self) -> JobWatchers:
        """The job watchers (open event streams per user) for the snapshot."""
        ...

    @property
    def staging(self) -> Mapping[str, Staging]:
        """Each system's staging store (for its waiting uploads), by name."""
        ...
