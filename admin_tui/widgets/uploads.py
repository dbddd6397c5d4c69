"""Staged uploads whose cluster job waits for the client to send the data."""

from __future__ import annotations

from typing import Any

from ._table import Cell, FittedTable, since


class UploadsTable(FittedTable):
    """One row per waiting upload, longest waiting first; hidden while there are none."""

    DEFAULT_CSS = """
    UploadsTable { height: auto; max-height: 8; }
    """
    COLUMNS = (("system", "System"), ("user", "User"), ("job", "Job"), ("waiting", "Waiting"), ("path", "Path"))
    FIT = "path"

    def show(self, snapshot: dict[str, Any]) -> None:
        now = snapshot.get("at")
        uploads = sorted(
            ((system["name"], u) for system in snapshot["systems"] for u in system.get("waiting_uploads") or ()),
            key=lambda item: str(item[1].get("since", "")),
        )
        self.display = bool(uploads)
        self.border_title = f"Waiting uploads ({len(uploads)})"
        self.fill([
            (f"{name}/{u['jobId']}/{u['path']}", [name, str(u["user"]), str(u["jobId"]), since(u.get("since"), now), u["path"]])
            for name, u in uploads
        ])  # fmt: skip
