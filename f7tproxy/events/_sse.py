"""The Server-Sent Events wire format (WHATWG HTML, "Server-sent events")."""

from __future__ import annotations

import json
import re
from typing import Any

_ID = re.compile(r"[0-9]{1,18}")


def event(kind: str, data: Any, event_id: int | None = None) -> bytes:
    """One event: `event:`, then `id:` if given, then `data:` (`data` as compact JSON, one line)."""
    head = f"event: {kind}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return (head + "data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n\n").encode()


def comment(text: str) -> bytes:
    """A comment line (ignored by clients; keeps proxies from closing an idle stream)."""
    return f": {text}\n\n".encode()


def last_event_id(raw: str | None) -> int | None:
    """The `Last-Event-ID` a client resumes from, if it is one of ours (a decimal number)."""
    if raw is None or not _ID.fullmatch(raw.strip()):
        return None
    return int(raw.strip())
