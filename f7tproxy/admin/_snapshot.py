"""The admin socket's `snapshot`: one JSON document built from frozen statistics."""

from __future__ import annotations

import datetime
import time
from typing import Any

import attrs
import trio

from .._iso import iso_z
from .._version import __version__
from ._source import AdminSource


def _r(x: float | None, digits: int = 6) -> float | None:
    return None if x is None else round(x, digits)


def snapshot(source: AdminSource) -> dict[str, Any]:
    """Pools, event streams (one entry per job watcher), health, requests and recent errors, as of now (JSON-ready)."""
    now = trio.current_time()
    pool = source.pool.statistics()
    pools_by_system = {s.system: s for s in pool.systems}
    systems = []
    for cluster in source.config.clusters:
        stats = pools_by_system.get(cluster.name)
        staging = source.staging.get(cluster.name)
        systems.append({
            "name": cluster.name,
            "description": cluster.description,
            "health": [r.to_json(now) for r in source.health.results(cluster.name)],
            "connections": stats.connections if stats else 0,
            "max_connections": stats.max_connections if stats else cluster.ssh.pool.max_connections,
            "users_waiting_to_connect": stats.users_waiting_to_connect if stats else 0,
            "waiting_uploads": [w.to_json() for w in staging.waiting.entries()] if staging else [],
            "sharing": attrs.asdict(source.metrics.sharing(cluster.name)),
            "breaker": {"state": "closed", "since": None, "failures": 0} if stats is None else {
                "state": stats.breaker.state,
                "since": iso_z(stats.breaker.since),
                "failures": stats.breaker.failures,
            },
        })
    pools = [
        {"system": s.system, **{k: _r(v, 3) if isinstance(v, float) else v for k, v in attrs.asdict(u).items()}}
        for s in pool.systems
        for u in s.users
    ]
    streams = [
        {k: _r(v, 1) if isinstance(v, float) else v for k, v in attrs.asdict(w).items()}
        for w in source.events.statistics().watchers
    ]
    requests = source.requests.statistics(now)
    token_hits, token_misses = source.metrics.token_cache()
    errors: list[dict[str, Any]] = [
        {"at": iso_z(e.at), "kind": "request", "text": f"{e.method} {e.path} -> {e.status}: {e.message or ''}".rstrip(": "),
         "user": e.user}
        for e in requests.errors
    ] + [
        {"at": iso_z(e.at), "kind": "health",
         "text": f"{e.system} {e.service}{' ' + e.path if e.path else ''}: "
                 + ("healthy again" if e.healthy else f"unhealthy: {e.message}"),
         "user": None}
        for e in source.health.events
    ]
    errors.sort(key=lambda e: e["at"])
    return {
        "version": __version__,
        "at": iso_z(datetime.datetime.now(datetime.UTC)),
        "uptime": round(time.time() - source.started_at, 1),
        "systems": systems,
        "pools": pools,
        "streams": streams,
        "requests": {
            "total": requests.total,
            "rate": list(requests.rate),
            "latency": [_r(x) for x in requests.latency],
            "endpoints": [
                {"endpoint": e.endpoint, "method": e.method, "count": e.count, "errors": e.errors,
                 "rate": round(e.rate, 3), "p50": _r(e.p50), "p90": _r(e.p90), "p99": _r(e.p99),
                 "commands": e.commands}
                for e in requests.endpoints
            ],
        },
        "tokens": {"cached": token_hits, "checked": token_misses},
        "errors": errors[-50:],
    }
