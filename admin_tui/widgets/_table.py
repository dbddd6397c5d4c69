"""Refilling a DataTable from a snapshot without losing the operator's cursor, and the cells they share."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

Cell = str | Text
Rows = Sequence[tuple[str, Sequence[Cell]]]

MIN_FIT = 16
"""Narrowest a fitted column gets; below that the table scrolls sideways instead."""


def refill(table: DataTable[Cell], rows: Rows) -> None:
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


class Table(DataTable[Cell]):
    """A table with the columns `COLUMNS` (key, label), a row cursor if `CURSOR`, zebra stripes."""

    COLUMNS: ClassVar[Sequence[tuple[str, str]]]
    CURSOR: ClassVar[bool] = False

    def on_mount(self) -> None:  # Textual also runs the subclasses' on_mount
        self.cursor_type = "row" if self.CURSOR else "none"
        self.zebra_stripes = True
        for key, label in self.COLUMNS:
            self.add_column(label, key=key)


class FittedTable(Table):
    """A table whose `FIT` column (free text, such as a message) takes the width the other columns leave.

    Its cells are cut with an ellipsis rather than pushed off screen, so every other column stays in
    view; the table is refitted when it is resized.
    """

    FIT: ClassVar[str]
    """Key of the column that takes the rest of the width."""

    _rows: Rows = ()

    def fill(self, rows: Rows) -> None:
        """Show `rows` (each `(key, cells)`), fitted to the table's current width."""
        self._rows = rows
        keys = list(self.columns)
        fit = [key.value for key in keys].index(self.FIT)
        others = sum(
            max([cell_len(column.label.plain), *(_width(cells[i]) for _, cells in rows)]) + 2 * self.cell_padding
            for i, column in enumerate(self.columns.values())
            if i != fit
        )
        # the vertical scrollbar's room is kept whether it shows or not: the columns do not jump
        room = max(MIN_FIT, self.size.width - others - 2 * self.cell_padding - self.styles.scrollbar_size_vertical)
        column = self.columns[keys[fit]]
        column.auto_width, column.width = False, room
        refill(self, [(key, [*cells[:fit], _cut(cells[fit], room), *cells[fit + 1 :]]) for key, cells in rows])

    def on_resize(self, event: events.Resize) -> None:
        if self._rows:
            self.fill(self._rows)


def _width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def _cut(cell: Cell, width: int) -> Cell:
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    text.truncate(width, overflow="ellipsis")
    return text


def number(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}{unit}"


def millis(seconds: float | None) -> str:
    """A latency: 12.5 ms, or 1.25 s from a second on."""
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def percent(part: int, whole: int) -> Text:
    """`part` of `whole` in per cent, red when there is any."""
    if not whole:
        return Text("-", style="dim")
    return Text(f"{100 * part / whole:.1f}%", style="red" if part else "")


def since(at: str | None, now: str | None) -> str:
    """How long before `now` the ISO 8601 time `at` was, as 45s, 2m05s or 3h07m ("?" if unknown)."""
    if at is None or now is None:
        return "?"
    try:
        seconds = int((_parse(now) - _parse(at)).total_seconds())
    except (TypeError, ValueError):  # not ISO 8601, or one naive and one aware
        return "?"
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def health_cell(healthy: bool | None, stale: bool = False) -> Text:
    if healthy is None:
        return Text("unchecked", style="dim")
    if stale:
        return Text("STALE", style="bold yellow")
    return Text("healthy", style="green") if healthy else Text("UNHEALTHY", style="bold red")
