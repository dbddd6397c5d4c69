"""Systems and the health of each of their services."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from ._table import Cell, health_cell, millis, number, refill


class SystemsTable(DataTable[Cell]):
    """One row per probed service; systems without probes get one row."""

    DEFAULT_CSS = """
    SystemsTable { height: auto; max-height: 12; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("System", "Service", "Health", "Latency", "Checked", "Message")

    def show(self, snapshot: dict[str, Any]) -> None:
        rows: list[tuple[str, list[Cell]]] = []
        for system in snapshot["systems"]:
            if not system["health"]:
                rows.append((system["name"], [system["name"], "-", health_cell(None), "-", "-", "no probes"]))
            for h in system["health"]:
                service = h["serviceType"] + (f" {h['path']}" if h.get("path") else "")
                rows.append((f"{system['name']}/{service}", [
                    system["name"], service, health_cell(h["healthy"], h.get("stale", False)),
                    millis(h.get("latency")), number(h.get("age"), " s ago"), (h.get("message") or "")[:80],
                ]))
        refill(self, rows)

    @property
    def selected_system(self) -> str | None:
        """The system of the row under the cursor."""
        if not self.row_count:
            return None
        return str(self.get_row_at(self.cursor_row)[0])
