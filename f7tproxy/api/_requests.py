"""Feed every finished request to the admin socket's request statistics."""

from __future__ import annotations

import trio
from quart import Quart, Response, g, request

from ..admin import RequestStats, is_error
from ..auth import User


def install(app: Quart, stats: RequestStats) -> None:
    """Time each request from its first `before_request` hook; record it after the response is made.

    Call before any other `before_request` is registered, so that requests
    refused by authentication or the health gate are timed too.
    """

    @app.before_request
    async def start_timer() -> None:
        g.f7t_started = trio.current_time()

    @app.after_request
    async def record(response: Response) -> Response:
        now = trio.current_time()
        started = g.get("f7t_started", now)
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        message = None
        if is_error(response.status_code) and response.is_json:
            body = await response.get_json()
            message = body.get("message") if isinstance(body, dict) else None
        user = g.get("user")
        stats.observe(
            rule, request.method, response.status_code, now - started, now=now,
            path=request.path, message=message, user=user.name if isinstance(user, User) else None,
        )
        return response
