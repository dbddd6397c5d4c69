"""What a running f7tproxy shares between its parts and its request handlers."""

from __future__ import annotations

import time

import attrs

from .auth import Auth
from .config import Config
from .scheduler import JobService, job_services
from .ssh import PoolSupervisor
from .transfer import Staging


@attrs.define
class Runtime:
    """The live parts of one f7tproxy process.

    Built by `f7tproxy.server.serve` once every part has started; request
    handlers reach it as `current_app.runtime` and never build parts themselves.
    """

    config: Config
    pool: PoolSupervisor
    """SSH leases to every cluster: `async with runtime.pool.lease(system, user, token) as ssh:`."""
    started_at: float = attrs.field(factory=time.time)
    """Wall-clock start time (seconds since the epoch)."""
    auth: Auth = attrs.field(default=attrs.Factory(lambda self: Auth(self.config), takes_self=True))
    """Token validation and authorization; until its `run` has loaded keys, requests get 503."""
    schedulers: dict[str, JobService] = attrs.field(
        default=attrs.Factory(lambda self: job_services(self.config.clusters), takes_self=True)
    )
    """Each system's scheduler backend (with idempotent submit and read-your-writes), by name."""
    staging: dict[str, Staging] = attrs.field(
        default=attrs.Factory(
            lambda self: {c.name: Staging(c.staging) for c in self.config.clusters if c.staging is not None},
            takes_self=True,
        )
    )
    """Each system's S3 staging store (systems without `staging` have none), by name."""
