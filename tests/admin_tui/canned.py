"""A fake admin server (asyncio) answering with a fixed snapshot, for deterministic screens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

SNAPSHOT: dict[str, Any] = {
    "version": "0.1.0",
    "at": "2026-01-02T03:04:05Z",
    "uptime": 3725.0,
    "systems": [
        {
            "name": "cluster-slurm", "description": "", "connections": 3, "max_connections": 256,
            "users_waiting_to_connect": 0,
            "breaker": {"state": "open", "since": "2026-01-02T03:02:00Z", "failures": 5},
            "sharing": {"reads_ran": 600, "reads_joined": 400, "lookups_ran": 20, "lookups_joined": 30,
                        "cache_hits": 90, "cache_joined": 4, "cache_misses": 6, "pool_busy": 12},
            "waiting_uploads": [
                {"user": "fireuser", "jobId": "4242", "path": "/home/fireuser/inputs/run-2026-01-02/particles.h5",
                 "since": "2026-01-02T03:03:50Z"},
                {"user": "alice", "jobId": "4238",
                 "path": "/home/alice/projects/climate-downscaling/ensemble-member-017/boundary-conditions.nc",
                 "since": "2026-01-02T02:58:30Z"},
            ],
            "health": [
                {"serviceType": "ssh", "healthy": True, "latency": 0.012, "message": "ok", "age": 4.0, "stale": False},
                {"serviceType": "scheduler", "healthy": False, "latency": 0.2,
                 "message": "scontrol ping: exit status 1: Slurmctld(primary) at vm is DOWN", "age": 4.0, "stale": False},
                {"serviceType": "filesystem", "path": "/home", "healthy": True, "latency": 0.02, "message": "ok",
                 "age": 4.0, "stale": False},
                {"serviceType": "s3", "healthy": True, "latency": 0.005, "message": "ok (2 buckets)", "age": 4.0,
                 "stale": False},
            ],
        },
        {"name": "cluster-pbs", "description": "", "connections": 0, "max_connections": 256,
         "users_waiting_to_connect": 0, "health": [],
         "breaker": {"state": "closed", "since": "2026-01-01T22:00:00Z", "failures": 0}, "waiting_uploads": []},
    ],
    "pools": [
        {"system": "cluster-slurm", "user": "fireuser", "connections": 2, "connecting": 0, "slots": 18,
         "slots_in_use": 5, "waiters": 0, "idle_seconds": 0.0, "leases": 120, "commands": 130, "failures": 1,
         "busy": 0, "connects": 2, "reconnects": 0, "drops": 0, "reaped": 0},
        {"system": "cluster-slurm", "user": "firesrv", "connections": 1, "connecting": 0, "slots": 9,
         "slots_in_use": 0, "waiters": 0, "idle_seconds": 12.5, "leases": 40, "commands": 40, "failures": 0,
         "busy": 0, "connects": 1, "reconnects": 0, "drops": 0, "reaped": 0},
        {"system": "cluster-slurm", "user": "alice", "connections": 0, "connecting": 1, "slots": 0,
         "slots_in_use": 0, "waiters": 3, "idle_seconds": 0.0, "leases": 7, "commands": 9, "failures": 4,
         "busy": 1, "connects": 3, "reconnects": 1, "drops": 2, "reaped": 0},
    ],
    "requests": {
        "total": 1234,
        "rate": [i % 7 for i in range(60)],
        "latency": [None if i % 7 == 0 else 0.01 * (i % 5 + 1) for i in range(60)],
        "endpoints": [
            {"endpoint": "/compute/<system>/jobs", "method": "GET", "count": 900, "errors": 2, "rate": 3.5,
             "p50": 0.03, "p90": 0.08, "p99": 0.2, "commands": 1800},
            {"endpoint": "/status/systems", "method": "GET", "count": 334, "errors": 0, "rate": 0.5,
             "p50": 0.001, "p90": 0.002, "p99": 0.004, "commands": 0},
            {"endpoint": "/compute/{system}/jobs/{job_id}/metadata", "method": "GET", "count": 41, "errors": 7,
             "rate": 0.05, "p50": 0.145, "p90": 1.25, "p99": 12.5, "commands": 30},
            {"endpoint": "/filesystem/{system}/transfer/upload", "method": "POST", "count": 0, "errors": 0,
             "rate": 0.0, "p50": None, "p90": None, "p99": None},
        ],
    },
    "tokens": {"cached": 95, "checked": 5},
    "errors": [
        {"at": "2026-01-02T03:00:00Z", "kind": "health", "text": "cluster-slurm scheduler: unhealthy: Slurmctld(primary) at vm is DOWN", "user": None},
        {"at": "2026-01-02T03:01:00Z", "kind": "request",
         "text": "GET /compute/cluster-slurm/jobs -> 503: The scheduler service of cluster-slurm is unhealthy", "user": "fireuser"},
    ],
}  # fmt: skip


class CannedServer:
    """Answers `snapshot` with `snapshot` (SNAPSHOT by default); records every other request and answers it `ok`."""

    def __init__(self, snapshot: dict[str, Any] | None = None) -> None:
        self.snapshot = SNAPSHOT if snapshot is None else snapshot
        self.requests: list[dict[str, Any]] = []

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                request = json.loads(line)
                if request.get("cmd") == "snapshot":
                    reply = {"ok": True, "result": self.snapshot}
                else:
                    self.requests.append(request)
                    reply = {"ok": True, "result": {**request, "connections": 1, "health": []}}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def canned_server(path: pathlib.Path, snapshot: dict[str, Any] | None = None) -> AsyncIterator[CannedServer]:
    canned = CannedServer(snapshot)
    server = await asyncio.start_unix_server(canned._client, str(path))
    try:
        yield canned
    finally:
        server.close()
        await server.wait_closed()
