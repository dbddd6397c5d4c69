"""Requests: rate and latency over the last minute, and counts, errors and percentiles per endpoint."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, Sparkline

from ._table import FittedTable, millis, percent


class RequestRates(Vertical):
    """Two sparklines of the last 60 seconds, one bar per second: requests per second and mean latency."""

    DEFAULT_CSS = """
    RequestRates { height: 1fr; }
    RequestRates Sparkline { height: 2; margin: 0 1; }
    RequestRates Label { margin: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Label("requests/s", id="rate-label")
        yield Sparkline([0.0], id="rate")
        yield Label("mean latency", id="latency-label")
        yield Sparkline([0.0], id="latency")

    def show(self, snapshot: dict[str, Any]) -> None:
        requests = snapshot["requests"]
        rate = [float(x) for x in requests["rate"]] or [0.0]
        latency = [float(x or 0.0) for x in requests["latency"]] or [0.0]
        self.query_one("#rate", Sparkline).data = rate
        self.query_one("#latency", Sparkline).data = latency
        self.query_one("#rate-label", Label).update(f"requests/s: now {rate[-1]:.0f}, max {max(rate):.0f}")
        self.query_one("#latency-label", Label).update(f"mean latency: max {millis(max(latency) or None)}")


class EndpointsTable(FittedTable):
    """One row per endpoint and method: requests, rate, errors and their share, latency percentiles,
    remote commands per request."""

    DEFAULT_CSS = """
    EndpointsTable { height: 1fr; }
    """
    COLUMNS = (
        ("endpoint", "Endpoint"), ("method", "Method"), ("count", "Count"), ("rate", "Req/s"),
        ("errors", "Errors"), ("error_rate", "Err %"), ("p50", "p50"), ("p90", "p90"), ("p99", "p99"),
        ("commands", "Cmd/req"),
    )  # fmt: skip
    FIT = "endpoint"

    def show(self, snapshot: dict[str, Any]) -> None:
        self.fill([
            (f"{e['method']} {e['endpoint']}", [
                e["endpoint"], e["method"], str(e["count"]), f"{e['rate']:.2f}", str(e["errors"]),
                percent(e["errors"], e["count"]), millis(e["p50"]), millis(e["p90"]), millis(e["p99"]),
                per_request(e.get("commands"), e["count"]),
            ])
            for e in snapshot["requests"]["endpoints"]
        ])  # fmt: skip


def per_request(commands: int | None, count: int) -> str:
    """Remote commands per request: 1.00, 0.12 (most shared another's command), 2.00."""
    if commands is None or not count:
        return "-"
    return f"{commands / count:.2f}"
