"""Status routes (FirecREST's /status group)."""

from __future__ import annotations

import datetime
from typing import Any

from quart import Blueprint, current_app

from ..config import ClusterConfig
from ..health import HealthChecker
from ._auth import public

status = Blueprint("status", __name__, url_prefix="/status")


@status.get("/liveness/")
@public
async def liveness() -> dict[str, Any]:
    """Liveness: no auth; `lastUpdate` is the age of the oldest health check (0: none yet).

    `stale` (ours, not FirecREST's; only when there are any) lists results too old to trust.
    """
    return current_app.runtime.health.liveness()  # type: ignore[attr-defined, no-any-return]


def _system(cluster: ClusterConfig, health: HealthChecker) -> dict[str, Any]:
    # FirecREST returns its whole cluster config here; we show only what clients use,
    # and never credentials, keys or storage secrets.
    return {
        "name": cluster.name,
        "ssh": {"host": cluster.ssh.host, "port": cluster.ssh.port},
        "scheduler": {
            "type": cluster.scheduler.type,
            "version": cluster.scheduler.version,
            "connectionMode": "ssh",
        },
        "servicesHealth": health.services_health(cluster.name),
        "lastHealthCheck": _iso(health.last_health_check(cluster.name)),
        "probing": {
            "services": list(cluster.probes.services),
            "intervalCheck": cluster.probes.interval,
        },
        "fileSystems": [
            {"path": fs.path, "dataType": fs.data_type, "defaultWorkDir": fs.default_work_dir}
            for fs in cluster.file_systems
        ],
    }


@status.get("/systems")
async def systems() -> dict[str, Any]:
    """The configured systems (no OpenFGA check here, as in FirecREST)."""
    runtime = current_app.runtime  # type: ignore[attr-defined]
    return {"systems": [_system(c, runtime.health) for c in runtime.config.clusters]}


def _iso(t: datetime.datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")
