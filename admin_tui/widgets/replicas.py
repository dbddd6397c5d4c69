"""Several replicas side by side: per replica its health and pools, and the totals."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text

from ._table import Cell, FittedTable, number

_COUNTS = ("connections", "in_use", "waiters", "requests")


def counts(snapshot: dict[str, Any]) -> dict[str, float]:
    """A replica's SSH connections, channel slots in use, lease waiters, requests and last rate."""
    pools = snapshot.get("pools", [])
    rate = snapshot["requests"]["rate"]
    return {
        "connections": sum(s.get("connections", 0) for s in snapshot["systems"]),
        "in_use": sum(p.get("slots_in_use", 0) for p in pools),
        "waiters": sum(p.get("waiters", 0) for p in pools),
        "requests": snapshot["requests"]["total"],
        "rate": rate[-1] if rate else 0,
    }


def unhealthy(snapshot: dict[str, Any]) -> list[str]:
    """What this replica sees unhealthy: "system: service, ..." per system (breakers included)."""
    out = []
    for system in snapshot["systems"]:
        bad = [h["serviceType"] for h in system.get("health", []) if h.get("healthy") is False]
        if system.get("breaker", {}).get("state", "closed") != "closed":
            bad.append("breaker " + system["breaker"]["state"])
        if bad:
            out.append(f"{system['name']}: {', '.join(bad)}")
    return out


def replica_cells(snapshot: dict[str, Any] | None, reason: str = "") -> list[Cell]:
    """One replica's cells after its name: state, version, uptime, counts, rate, health (offline: why)."""
    if snapshot is None:
        return [Text("OFFLINE", style="bold red"), "-", "-", "-", "-", "-", "-", "-", reason]
    c, bad = counts(snapshot), unhealthy(snapshot)
    uptime = int(snapshot.get("uptime", 0))
    return [
        Text("up", style="green"), str(snapshot.get("version", "?")), f"{uptime // 3600}h{uptime % 3600 // 60:02d}m",
        *(str(int(c[k])) for k in _COUNTS), number(c["rate"], "/s"),
        Text("; ".join(bad), style="bold red") if bad else Text("all healthy", style="green"),
    ]  # fmt: skip


def total_cells(snapshots: list[dict[str, Any] | None]) -> list[Cell]:
    """The totals over the replicas that answered."""
    live = [s for s in snapshots if s is not None]
    sums = {k: sum(counts(s)[k] for s in live) for k in (*_COUNTS, "rate")}
    sick = sum(1 for s in live if unhealthy(s))
    state = Text(f"{len(live)}/{len(snapshots)} up", style="bold" if len(live) == len(snapshots) else "bold red")
    return [state, "", "", *(str(int(sums[k])) for k in _COUNTS), number(sums["rate"], "/s"),
            f"{sick} replica(s) see an unhealthy service" if sick else ""]  # fmt: skip


class ReplicasTable(FittedTable):
    """One row per admin socket, then the totals."""

    COLUMNS: ClassVar = [
        ("replica", "Replica"), ("state", "State"), ("version", "Version"), ("uptime", "Up"),
        ("connections", "SSH conns"), ("in_use", "Slots in use"), ("waiters", "Waiting"),
        ("requests", "Requests"), ("rate", "Rate"), ("health", "Health"),
    ]  # fmt: skip
    FIT = "health"

    def show(self, replicas: list[tuple[str, dict[str, Any] | None, str]]) -> None:
        """`replicas`: (socket path, its last snapshot or None, why it is offline)."""
        rows: list[tuple[str, list[Cell]]] = [
            (path, [path, *replica_cells(snapshot, reason)]) for path, snapshot, reason in replicas
        ]
        rows.append(("total", [Text("total", style="bold"), *total_cells([s for _, s, _ in replicas])]))
        self.fill(rows)
