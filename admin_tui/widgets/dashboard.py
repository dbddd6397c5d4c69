"""The connected screen: every area of the dashboard, laid out for the terminal's width."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from .errors import ErrorsTable
from .pools import PoolTable
from .requests import EndpointsTable, RequestRates
from .sharing import SharingLines
from .streams import StreamsTable
from .systems import SystemsTable
from .uploads import UploadsTable

BREAKPOINTS = [(0, "-narrow"), (120, "-normal")]
"""The app's HORIZONTAL_BREAKPOINTS: the screen classes the layout below depends on."""


class Dashboard(Vertical):
    """Full-width areas, top to bottom: systems; what sharing saved (a line per system); the SSH
    pools beside the request sparklines; the
    endpoints (their columns would not fit beside anything at 120-160 columns); waiting uploads
    and event streams (while there are any); recent errors. Free-text columns (messages, paths) take the width the
    other columns leave, so a wider terminal shows more of them and a narrower one cuts them with
    an ellipsis. Narrower than 120 columns the sparklines go and the tables scroll sideways.
    """

    SCOPED_CSS = False  # the rules below start at the Screen, whose classes name the width
    DEFAULT_CSS = """
    Dashboard { height: 1fr; }
    Dashboard DataTable, Dashboard RequestRates { border-top: solid $primary-darken-2; }
    Dashboard #activity { height: 1fr; }
    Dashboard PoolTable { width: auto; }
    Dashboard RequestRates { width: 1fr; }
    Screen.-narrow Dashboard RequestRates { display: none; }
    Screen.-narrow Dashboard PoolTable { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield SystemsTable(id="systems")
        yield SharingLines(id="sharing")
        with Horizontal(id="activity"):
            yield PoolTable(id="pools")
            yield RequestRates(id="rates")
        yield EndpointsTable(id="endpoints")
        yield UploadsTable(id="uploads")
        yield StreamsTable(id="streams")
        yield ErrorsTable(id="errors")

    def on_mount(self) -> None:
        titles = {"systems": "Systems", "pools": "SSH pools", "rates": "Requests, last 60 s", "endpoints": "Endpoints",
                  "errors": "Recent errors", "uploads": "Waiting uploads", "streams": "Event streams"}  # fmt: skip
        for id, title in titles.items():
            self.query_one(f"#{id}").border_title = title

    def show(self, snapshot: dict[str, Any]) -> None:
        """Show `snapshot` in every area."""
        self.query_one(SystemsTable).show(snapshot)
        self.query_one(SharingLines).show(snapshot)
        self.query_one(PoolTable).show(snapshot)
        self.query_one(RequestRates).show(snapshot)
        self.query_one(EndpointsTable).show(snapshot)
        self.query_one(ErrorsTable).show(snapshot)
        self.query_one(UploadsTable).show(snapshot)
        self.query_one(StreamsTable).show(snapshot)
