"""What the dashboard shows while it cannot reach the server."""

from __future__ import annotations

from textual.widgets import Static


class Offline(Static):
    """A full-screen notice: why we are not connected, and that we keep trying."""

    DEFAULT_CSS = """
    Offline { width: 100%; height: 100%; content-align: center middle; text-align: center; color: $warning; }
    """

    def show(self, path: str, reason: str) -> None:
        self.update(
            f"[b]Not connected to f7tproxy[/b]\n\n{reason}\n\n"
            f"Trying {path} again every second. Press q to quit."
        )
