"""Recent errors: failed requests and health state changes, newest first."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ._table import Cell, FittedTable


class ErrorsTable(FittedTable):
    """The server's recent errors."""

    DEFAULT_CSS = """
    ErrorsTable { height: 1fr; }
    """
    COLUMNS = (("at", "At"), ("kind", "Kind"), ("what", "What"))
    FIT = "what"

    def show(self, snapshot: dict[str, Any]) -> None:
        rows: list[tuple[str, list[Cell]]] = []
        for i, e in enumerate(reversed(snapshot["errors"])):
            style = "green" if e["text"].endswith("healthy again") else "red"
            rows.append((str(i), [e["at"][11:19], e["kind"], Text(e["text"], style=style)]))
        self.fill(rows)
