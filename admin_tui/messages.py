"""Messages the polling and command workers post to the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class SnapshotReceived(Message):
    """A fresh snapshot from the server."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        super().__init__()
        self.snapshot = snapshot


class Disconnected(Message):
    """The server cannot be reached (yet, or any more)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class CommandDone(Message):
    """A command (drain, check-now) finished; `text` says how."""

    def __init__(self, text: str, *, error: bool = False) -> None:
        super().__init__()
        self.text = text
        self.error = error
