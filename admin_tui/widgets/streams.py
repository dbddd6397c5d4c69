"""Event streams: one row per job watcher (a system and user with open streams)."""

from __future__ import annotations

from typing import Any

from ._table import FittedTable


class StreamsTable(FittedTable):
    """Open streams and what their watcher costs the cluster; hidden while there are none."""

    DEFAULT_CSS = """
    StreamsTable { height: auto; max-height: 8; }
    """
    COLUMNS = (
        ("system", "System"), ("user", "User"), ("job_streams", "Job streams"), ("output_streams", "Output streams"),
        ("jobs", "Jobs"), ("files", "Files"), ("polls", "Polls"), ("commands", "Commands"), ("errors", "Errors"),
        ("last_error", "Last error"),
    )  # fmt: skip
    FIT = "last_error"

    def show(self, snapshot: dict[str, Any]) -> None:
        watchers = sorted(snapshot.get("streams") or (), key=lambda w: (w["system"], w["user"]))
        self.display = bool(watchers)
        self.border_title = f"Event streams ({sum(w['job_streams'] + w['output_streams'] for w in watchers)})"
        self.fill([
            (f"{w['system']}/{w['user']}", [w["system"], w["user"], str(w["job_streams"]), str(w["output_streams"]),
             str(w["jobs"]), str(w["files"]), str(w["polls"]), str(w["commands"]), str(w["errors"]),
             w.get("last_error") or ""])
            for w in watchers
        ])  # fmt: skip
