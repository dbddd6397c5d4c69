"""Refilling a DataTable from a snapshot without losing the operator's cursor."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

Cell = str | Text


def refill(table: DataTable[Cell], rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
    """Replace the rows (each `(key, cells)`), keeping the cursor on the same key if it is still there."""
    current: RowKey | None = None
    if table.row_count and 0 <= table.cursor_row < table.row_count:
        current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if current is not None and current.value is not None:
        try:
            table.move_cursor(row=table.get_row_index(current.value), animate=False)
        except Exception:  # the row is gone: the cursor stays where clear() put it
            pass


def number(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}{unit}"


def millis(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


def health_cell(healthy: bool | None, stale: bool = False) -> Text:
    if healthy is None:
        return Text("unchecked", style="dim")
    if stale:
        return Text("STALE", style="bold yellow")
    return Text("healthy", style="green") if healthy else Text("UNHEALTHY", style="bold red")
