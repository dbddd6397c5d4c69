"""A small Server-Sent Events client on httpx (no pyfirecrest): what a portal or a script would write."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpx


@attrs.frozen
class Event:
    kind: str
    data: Any
    id: str | None


async def events(response: httpx.Response, comments: list[str] | None = None) -> AsyncIterator[Event]:
    """The events of a `text/event-stream` response, in order; comment lines go to `comments`."""
    kind, data, event_id = "message", [], None
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Event(kind, json.loads("\n".join(data)), event_id)
            kind, data, event_id = "message", [], None
        elif line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
