"""The SSH pool: one row per system and user, sortable by any column."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.widgets import DataTable

from ._table import Cell, Table, number, refill

class PoolTable(Table):
    """Per-user pool statistics. `s` (or a click on a header) sorts; again reverses."""

    DEFAULT_CSS = """
    PoolTable { height: 1fr; }
    """
    COLUMNS = (
        ("system", "System"), ("user", "User"), ("connections", "Conns"), ("slots_in_use", "In use"),
        ("slots", "Slots"), ("waiters", "Waiters"), ("idle_seconds", "Idle s"), ("commands", "Commands"),
        ("failures", "Errors"), ("drops", "Drops"),
    )  # fmt: skip
    CURSOR = True

    def on_mount(self) -> None:
        self.sort_column = "system"
        self.sort_reverse = False
        self._pools: dict[str, dict[str, Any]] = {}

    def show(self, snapshot: dict[str, Any]) -> None:
        self._pools = {f"{p['system']}/{p['user']}": p for p in snapshot["pools"]}
        refill(self, [(key, self._cells(p)) for key, p in self._sorted()])

    def _sorted(self) -> list[tuple[str, dict[str, Any]]]:
        def key(item: tuple[str, dict[str, Any]]) -> tuple[Any, str]:
            return (item[1].get(self.sort_column), item[0])

        return sorted(self._pools.items(), key=key, reverse=self.sort_reverse)

    @staticmethod
    def _cells(p: dict[str, Any]) -> list[Cell]:
        return [
            p["system"], p["user"], str(p["connections"]), str(p["slots_in_use"]), str(p["slots"]),
            str(p["waiters"]), number(p["idle_seconds"]), str(p["commands"]), str(p["failures"]), str(p["drops"]),
        ]  # fmt: skip

    def sort_by(self, column: str) -> None:
        """Sort by `column`; sorting by the current column again reverses the order."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = column, False
        refill(self, [(key, self._cells(p)) for key, p in self._sorted()])

    def next_sort(self) -> None:
        """Sort by the next column."""
        keys = [k for k, _ in self.COLUMNS]
        self.sort_by(keys[(keys.index(self.sort_column) + 1) % len(keys)])

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value is not None:
            self.sort_by(event.column_key.value)

    @property
    def selected(self) -> tuple[str, str] | None:
        """(system, user) under the cursor."""
        if not self.row_count:
            return None
        row = self.get_row_at(self.cursor_row)
        return str(row[0]), str(row[1])
