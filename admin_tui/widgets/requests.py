"""Request rate and latency over the last minute, and a table per endpoint."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Sparkline

from ._table import Cell, millis, refill


class RequestsPanel(Vertical):
    """Sparklines (one bar per second) and per-endpoint counts, rates and percentiles."""

    DEFAULT_CSS = """
    RequestsPanel { height: 1fr; }
    RequestsPanel Sparkline { height: 2; margin: 0 1; }
    RequestsPanel Label { margin: 0 1; color: $text-muted; }
    RequestsPanel DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Label("requests/s (last 60 s)", id="rate-label")
        yield Sparkline([0.0], id="rate")
        yield Label("mean latency (last 60 s)", id="latency-label")
        yield Sparkline([0.0], id="latency")
        yield DataTable(id="endpoints", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#endpoints", DataTable).add_columns(
            "Endpoint", "Method", "Count", "Req/s", "p50", "p90", "p99", "Errors"
        )

    def show(self, snapshot: dict[str, Any]) -> None:
        requests = snapshot["requests"]
        rate = [float(x) for x in requests["rate"]]
        latency = [float(x or 0.0) for x in requests["latency"]]
        self.query_one("#rate", Sparkline).data = rate
        self.query_one("#latency", Sparkline).data = latency
        self.query_one("#rate-label", Label).update(f"requests/s (last 60 s): now {rate[-1]:.0f}, max {max(rate):.0f}")
        peak = max(latency)
        self.query_one("#latency-label", Label).update(f"mean latency (last 60 s): max {millis(peak or None)}")
        table: DataTable[Cell] = self.query_one("#endpoints", DataTable)
        refill(table, [
            (f"{e['method']} {e['endpoint']}", [
                e["endpoint"], e["method"], str(e["count"]), f"{e['rate']:.2f}",
                millis(e["p50"]), millis(e["p90"]), millis(e["p99"]), str(e["errors"]),
            ])
            for e in requests["endpoints"]
        ])  # fmt: skip
