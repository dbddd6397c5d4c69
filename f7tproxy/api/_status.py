"""Status routes (FirecREST's /status group)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

status = Blueprint("status", __name__, url_prefix="/status")


@status.get("/liveness/")
async def liveness() -> dict[str, Any]:
    """Liveness: no auth; `lastUpdate` is the age of the oldest health check (0: none yet)."""
    return {"healthcheckRuns": {}, "lastUpdate": 0}
