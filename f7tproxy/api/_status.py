"""Status routes (FirecREST's /status group): systems, liveness, nodes, partitions, reservations, userinfo."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
from quart import Blueprint, current_app

from ..config import ClusterConfig
from ..errors import InternalError
from ..health import HealthChecker
from ..scheduler import Node, Partition, Reservation, Runner, SchedulerBackend, UserInfo, id_command, parse_id
from ._auth import current_user, public
from ._openapi import operation
from ._systems import system_or_404
from ._wire import to_wire

status = Blueprint("status", __name__, url_prefix="/status")


@attrs.frozen
class GetLiveness:
    """Liveness of the gateway."""

    healthcheck_runs: dict[str, str]
    """Per system, when its health was last checked (ISO 8601)."""
    last_update: int
    """Seconds since the oldest of those checks (0: none yet)."""


@attrs.frozen
class GetSystemsResponse:
    """The configured systems (FirecREST's `HPCCluster`, without any secret)."""

    systems: list[dict[str, Any]]


@attrs.frozen
class GetNodesResponse:
    """Compute nodes."""

    nodes: list[Node]


@attrs.frozen
class GetPartitionsResponse:
    """Partitions (queues)."""

    partitions: list[Partition]


@attrs.frozen
class GetReservationsResponse:
    """Advance reservations."""

    reservations: list[Reservation]


@status.get("/liveness/")
@public
@operation("Liveness", tag="status", response=GetLiveness)
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
@operation("The configured systems", tag="status", response=GetSystemsResponse)
async def systems() -> dict[str, Any]:
    """The configured systems (no OpenFGA check here, as in FirecREST)."""
    runtime = current_app.runtime  # type: ignore[attr-defined]
    return {"systems": [_system(c, runtime.health) for c in runtime.config.clusters]}


def _iso(t: datetime.datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")
