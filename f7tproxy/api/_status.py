"""Status routes (FirecREST's /status group): systems, liveness, nodes, partitions, reservations, userinfo."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
from quart import Blueprint
from quart.blueprints import BlueprintSetupState

from .._iso import iso_z
from .. import errors
from ..config import ClusterConfig
from ..scheduler import Node, Partition, Reservation, Runner, SchedulerBackend, StatusCaches, TtlCache, UserInfo
from ._auth import public
from ._context import GatewayApp, current_system, current_user, lease, query_bool, runtime, this_app
from ._openapi import Param, operation
from ._wire import to_wire

status = Blueprint("status", __name__, url_prefix="/status")


@attrs.frozen
class GetLiveness:
    """Liveness of the gateway."""

    healthcheck_runs: dict[str, str]
    """Per system, when its health was last checked (ISO 8601)."""
    last_update: int
    """Seconds since the oldest of those checks (0: none yet)."""
    stale: list[dict[str, Any]] | None = None
    """f7tproxy extension, present only when some result is stale: those results
    (`system`, `serviceType`, `path`, `age` in seconds)."""


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
@operation("Liveness", tag="status", firecrest="get_liveness", response=GetLiveness)
async def liveness() -> dict[str, Any]:
    """Liveness: no auth; `lastUpdate` is the age of the oldest health check (0: none yet).

    `stale` (ours, not FirecREST's; only when there are any) lists results too old to trust.
    From SIGTERM on it answers 503, so that a load balancer stops sending before the
    listener closes (`server.drain_delay`).
    """
    if runtime().draining:
        raise errors.ServiceUnavailable("Shutting down", retry_after=1)
    return runtime().health.liveness()


_DESCRIBED = "f7tproxy.status.systems"
"""The app's `extensions` key of each system's unchanging parts (`_describe_systems`)."""


@status.record_once
def _describe_systems(state: BlueprintSetupState) -> None:
    """Of a system's answer only its health changes between requests: the rest of each one is
    made once, when the app is built, and shared by every answer (encoded, never changed)."""
    app = state.app
    assert isinstance(app, GatewayApp)
    app.extensions[_DESCRIBED] = [_describe(cluster) for cluster in app.runtime.config.clusters]


def _describe(cluster: ClusterConfig) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """`cluster`'s name, and what its answer shows of its configuration before and after its health.

    FirecREST returns its whole cluster config here; we show only what clients use,
    and never credentials, keys or storage secrets.
    """
    head = {
        "name": cluster.name,
        "ssh": {"host": cluster.ssh.host, "port": cluster.ssh.port},
        "scheduler": {
            "type": cluster.scheduler.type,
            "version": cluster.scheduler.version or "",  # FirecREST requires a string
            "connectionMode": "ssh",
        },
    }
    tail = {
        "probing": {
            # FirecREST's ProbingServices: {service type: {timeout}}, whole seconds.
            "services": {name: {"timeout": math.ceil(probe.timeout)} for name, probe in cluster.probes.services.items()},
            "intervalCheck": math.ceil(cluster.probes.interval),
        },
        "fileSystems": [
            {"path": fs.path, "dataType": fs.data_type, "defaultWorkDir": fs.default_work_dir}
            for fs in cluster.file_systems
        ],
    }
    return cluster.name, head, tail


@status.get("/systems")
@operation("The configured systems", tag="status", firecrest="get_systems", response="GetSystemsResponse")
async def systems() -> dict[str, Any]:
    """The configured systems (no OpenFGA check here, as in FirecREST)."""
    app = this_app()
    health = app.runtime.health
    return {
        "systems": [
            {
                **head,
                "servicesHealth": health.services_health(name),
                "lastHealthCheck": iso_z(health.last_health_check(name)),
                **tail,
            }
            for name, head, tail in app.extensions[_DESCRIBED]
        ]
    }


T = TypeVar("T")


async def _cached(
    pick: Callable[[StatusCaches], TtlCache[str, T]],
    fetch: Callable[[SchedulerBackend, Runner, str], Awaitable[T]],
    *,
    per_user: bool = False,
) -> T:
    """The answer `fetch(backend, lease, user)` gives on the request's system, reused from its's cache
    `pick(caches)` while it is fresh; a lease is taken only to fetch."""
    here = current_system()
    user = current_user()
    caches = runtime().caches[here.name]

    async def load() -> T:
        async with lease() as held:
            return await fetch(here.jobs.backend, held, user.name)

    return await pick(caches).get(user.name if per_user else caches.scope(user.name), load)


@status.get("/<system>/nodes")
@operation("Compute nodes", tag="status", firecrest="get_system_nodes", response=GetNodesResponse)
async def nodes(system: str) -> dict[str, Any]:
    """The system's compute nodes."""
    found = await _cached(lambda c: c.nodes, lambda backend, lease, _: backend.nodes(lease))
    return to_wire(GetNodesResponse(found))  # type: ignore[no-any-return]


@status.get("/<system>/partitions")
@operation("Partitions", tag="status", firecrest="get_system_partitions", response=GetPartitionsResponse,
           query=(Param("show_hidden", {"type": "boolean", "default": False}, "Hidden partitions too (Slurm)"),))
async def partitions(system: str) -> dict[str, Any]:
    """The system's partitions (queues); hidden ones only with `show_hidden`."""
    show_hidden = query_bool("show_hidden")
    found = await _cached(lambda c: c.partitions, lambda backend, lease, _: backend.partitions(lease))
    shown = [p for p in found if show_hidden or not p.hidden]
    return to_wire(GetPartitionsResponse(shown))  # type: ignore[no-any-return]


@status.get("/<system>/reservations")
@operation("Reservations", tag="status", firecrest="get_system_reservations", response=GetReservationsResponse)
async def reservations(system: str) -> dict[str, Any]:
    """The system's advance reservations."""
    found = await _cached(lambda c: c.reservations, lambda backend, lease, _: backend.reservations(lease))
    return to_wire(GetReservationsResponse(found))  # type: ignore[no-any-return]


@status.get("/<system>/userinfo")
@operation("The user on the system", tag="status", firecrest="get_userinfo", response=UserInfo)
async def userinfo(system: str) -> dict[str, Any]:
    """The user's uid, groups and scheduler accounts on the system."""
    info = await _cached(lambda c: c.userinfo, lambda backend, lease, user: backend.userinfo(lease, user),
                         per_user=True)  # fmt: skip
    return to_wire(info)  # type: ignore[no-any-return]
