"""Systems: their circuit breaker, uploads waiting for data, and the health of each of their services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from ._table import Cell, FittedTable, health_cell, millis, number, since

BREAKER_STYLES = {"closed": "green", "open": "bold white on red", "half_open": "bold yellow"}


class SystemsTable(FittedTable):
    """One row per probed service (systems without probes get one); the system's own cells on its first row."""

    DEFAULT_CSS = """
    SystemsTable { height: auto; max-height: 12; }
    """
    COLUMNS = (
        ("system", "System"), ("breaker", "Breaker"), ("uploads", "Uploads"), ("service", "Service"),
        ("health", "Health"), ("latency", "Latency"), ("checked", "Checked"), ("message", "Message"),
    )  # fmt: skip
    CURSOR = True
    FIT = "message"
    _systems: Mapping[str, str] = {}
    """The system of each row (by key): only a system's first row names it."""

    def show(self, snapshot: dict[str, Any]) -> None:
        rows: list[tuple[str, list[Cell]]] = []
        systems: dict[str, str] = {}
        for system in snapshot["systems"]:
            name = system["name"]
            first: list[Cell] = [
                name, breaker_cell(system.get("breaker"), snapshot.get("at")), uploads_cell(system.get("waiting_uploads"))
            ]  # fmt: skip
            services: list[tuple[str, list[Cell]]] = [
                (h["serviceType"] + (f" {h['path']}" if h.get("path") else ""), [
                    health_cell(h["healthy"], h.get("stale", False)), millis(h.get("latency")),
                    number(h.get("age"), " s ago"), h.get("message") or "",
                ])
                for h in system["health"]
            ] or [("-", [health_cell(None), "-", "-", "no probes"])]  # fmt: skip
            for i, (service, cells) in enumerate(services):
                key = f"{name}/{service}"
                systems[key] = name
                rows.append((key, [*(first if i == 0 else ["", "", ""]), service, *cells]))
        self._systems = systems
        self.fill(rows)

    @property
    def selected_system(self) -> str | None:
        """The system of the row under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self._systems.get(key or "")


def breaker_cell(breaker: dict[str, Any] | None, now: str | None) -> Text:
    """The breaker's state (open stands out), how long it has been in it, and the failures it counts."""
    if not breaker:
        return Text("-", style="dim")
    state = str(breaker.get("state", "?"))
    text = Text(state.replace("_", "-").upper() if state == "open" else state.replace("_", "-"),
                style=BREAKER_STYLES.get(state, ""))  # fmt: skip
    if state != "closed" and breaker.get("since"):
        text.append(f" {since(breaker['since'], now)}")
    failures = breaker.get("failures") or 0
    if failures:
        text.append(f", {failures} failure{'s' if failures != 1 else ''}")
    return text


def uploads_cell(waiting: list[dict[str, Any]] | None) -> Text:
    """How many staged uploads wait for their data (their jobs wait with them)."""
    if waiting is None:
        return Text("-", style="dim")
    return Text(str(len(waiting)), style="bold yellow" if waiting else "dim")
