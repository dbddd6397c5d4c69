"""The top line: where we are connected, the server's version and uptime."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


class StatusBar(Static):
    """One line about the connection."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; padding: 0 1; }
    """

    def show_snapshot(self, path: str, snapshot: dict[str, Any]) -> None:
        uptime = int(snapshot.get("uptime", 0))
        hours, rest = divmod(uptime, 3600)
        self.update(
            f"[b]f7tproxy {snapshot.get('version', '?')}[/b]  {path}  "
            f"up {hours}h{rest // 60:02d}m  total requests {snapshot['requests']['total']}  "
            f"at {snapshot.get('at', '')}"
        )

    def show_offline(self, path: str) -> None:
        self.update(f"[b]f7tproxy[/b]  {path}  [reverse red] offline [/]")
