"""Recent errors: failed requests and health state changes, newest first."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from ._table import Cell, refill


class ErrorsTable(DataTable[Cell]):
    """The server's recent errors."""

    DEFAULT_CSS = """
    ErrorsTable { height: 1fr; }
    """

    def on_mount(self) -> None:
        self.cursor_type = "none"
        self.add_columns("At", "Kind", "What")

    def show(self, snapshot: dict[str, Any]) -> None:
        rows: list[tuple[str, list[Cell]]] = []
        for i, e in enumerate(reversed(snapshot["errors"])):
            style = "green" if e["text"].endswith("healthy again") else "red"
            rows.append((str(i), [e["at"][11:19], e["kind"], Text(e["text"], style=style)]))
        refill(self, rows)
