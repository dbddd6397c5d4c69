"""Status routes (FirecREST's /status group)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, current_app

from ..config import ClusterConfig
from ._auth import public

status = Blueprint("status", __name__, url_prefix="/status")


@status.get("/liveness/")
@public
async def liveness() -> dict[str, Any]:
    """Liveness: no auth; `lastUpdate` is the age of the oldest health check (0: none yet)."""
    return {"healthcheckRuns": {}, "lastUpdate": 0}


def _system(cluster: ClusterConfig) -> dict[str, Any]:
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
        "servicesHealth": None,
        "fileSystems": [
            {"path": fs.path, "dataType": fs.data_type, "defaultWorkDir": fs.default_work_dir}
            for fs in cluster.file_systems
        ],
    }


@status.get("/systems")
async def systems() -> dict[str, Any]:
    """The configured systems (no OpenFGA check here, as in FirecREST)."""
    config = current_app.runtime.config  # type: ignore[attr-defined]
    return {"systems": [_system(c) for c in config.clusters]}
