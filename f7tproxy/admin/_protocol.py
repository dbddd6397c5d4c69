"""The admin protocol: one JSON object per line each way.

Requests: ``{"cmd": "snapshot"}``, ``{"cmd": "drain", "system": S, "user": U}``,
``{"cmd": "check-now", "system": S}``, optionally with an ``"id"`` that the
answer repeats. Answers: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}``. A malformed request gets an error answer;
the connection stays open (unless the line is too long to be a request).
"""

from __future__ import annotations

import json
from typing import Any

import trio

from ..errors import ApiError
from ._snapshot import snapshot
from ._source import AdminSource

COMMANDS = ("snapshot", "drain", "check-now")


class BadRequest(Exception):
    """The request line is not a valid admin request."""


def encode(message: dict[str, Any]) -> bytes:
    """One answer line."""
    return json.dumps(message, separators=(",", ":"), default=str).encode() + b"\n"


def _string(request: dict[str, Any], key: str) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{request['cmd']!r} needs a non-empty string {key!r}")
    return value


async def answer(source: AdminSource, line: bytes) -> dict[str, Any]:
    """The answer to one request line (never raises, except trio.Cancelled)."""
    request_id = None
    try:
        try:
            request = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"malformed JSON: {exc}") from None
        if not isinstance(request, dict):
            raise BadRequest("a request is a JSON object")
        request_id = request.get("id")
        cmd = request.get("cmd")
        if cmd not in COMMANDS:
            raise BadRequest(f"unknown cmd {cmd!r}; known: {', '.join(COMMANDS)}")
        result: Any
        if cmd == "snapshot":
            result = snapshot(source)
        elif cmd == "drain":
            system, user = _string(request, "system"), _string(request, "user")
            result = {"system": system, "user": user, "connections": await source.pool.drain(system, user)}
        else:
            system = _string(request, "system")
            results = await source.health.check_now(system)
            now = trio.current_time()
            result = {"system": system, "health": [r.to_json(now) for r in results]}
        reply: dict[str, Any] = {"ok": True, "result": result}
    except (BadRequest, ApiError) as exc:
        reply = {"ok": False, "error": str(exc)}
    if request_id is not None:
        reply["id"] = request_id
    return reply
