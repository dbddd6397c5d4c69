"""The app's operator surface: request ids, the access log, request metrics, /metrics.

`install(app)` wraps the app in an ASGI middleware that sees every HTTP request
from its first byte to the end of its response (so durations include streaming
bodies and the status is the one really sent), and times it once for the access
log, the Prometheus metrics and the admin socket's request statistics. It also adds
the metrics route. `record_route` (the first step of the app's before_request) records
the route template and `{system}` of the matched route.
"""

from __future__ import annotations

import functools
import hmac
import json
import re
import time
from typing import Any

import trio

from hypercorn.typing import ASGIReceiveCallable, ASGIReceiveEvent, ASGISendCallable, ASGISendEvent, Scope
from quart import Quart, Request, Response, request

from .. import errors
from ..observability import UNMATCHED, Metrics, RequestInfo, RequestStats, current_request, is_error, log_access
from ..observability._context import clean_id, enter_request, exit_request, new_request_id
from ._auth import public
from ._context import runtime

CLIENT_CLOSED = 499
"""The status logged and counted for a request whose client closed the connection before any answer."""

_ERROR_BODY_LIMIT = 16 * 1024
"""Bytes of an error answer's JSON body kept for its message (FirecREST's error bodies are small)."""

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@functools.lru_cache(maxsize=1024)  # one entry per route: the app's rules, not what clients send
def route_template(rule: str) -> str:
    """Quart's ``/compute/<system>/jobs/<int:jobid>`` as ``/compute/{system}/jobs/{jobid}``."""
    return _CONVERTER.sub(r"{\1}", rule)


class ObserveMiddleware:
    """ASGI middleware: one `RequestInfo` per request, ids in and out, access log, metrics and
    request statistics (`requests`, if given)."""

    def __init__(self, app: Any, metrics: Metrics, *, requests: RequestStats | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.requests = requests

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = correlation_id = None
        for name, value in scope["headers"]:  # only these two are read here: no dictionary of them all
            name = name.lower()
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
            elif name == b"x-correlation-id":
                correlation_id = value.decode("latin-1")
        client = scope.get("client")
        info = RequestInfo(
            request_id=clean_id(request_id) or new_request_id(),
            correlation_id=clean_id(correlation_id),
            method=scope["method"],
            path=scope["path"],
            client=client[0] if client else None,
        )
        status: int | None = None
        disconnected = False
        error_body: bytearray | None = None
        """The body of an error answer in JSON, for the request statistics' message."""
        started = time.perf_counter()

        async def receive_noting_disconnect() -> ASGIReceiveEvent:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def send_with_ids(message: ASGISendEvent) -> None:
            nonlocal status, error_body
            if message["type"] == "http.response.start":
                status = message["status"]
                if self.requests is not None and is_error(status) and _is_json(message.get("headers", [])):
                    error_body = bytearray()
                extra = {"x-request-id": info.request_id}
                if info.correlation_id is not None:
                    extra["x-correlation-id"] = info.correlation_id
                if info.rate is not None:
                    extra.update((k.lower(), v) for k, v in info.rate.headers().items())
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            elif message["type"] == "http.response.body" and error_body is not None:
                error_body += message.get("body", b"")[: _ERROR_BODY_LIMIT - len(error_body)]
            await send(message)

        token = enter_request(info)
        self.metrics.request_started()
        try:
            await self.app(scope, receive_noting_disconnect, send_with_ids)
        finally:
            if status is None:
                # No answer was sent: the client went away first (nginx's 499), or the app failed.
                status = CLIENT_CLOSED if disconnected else 500
            self.metrics.request_ended()
            exit_request(token)
            duration = time.perf_counter() - started
            self.metrics.observe_request(info.endpoint, info.method, status, duration, commands=info.commands)
            if self.requests is not None:
                self.requests.observe(
                    info.endpoint or UNMATCHED, info.method, status, duration, now=trio.current_time(),
                    path=info.path, message=_message(error_body), user=info.user, commands=info.commands,
                )
            log_access(info, status=status, duration=duration)


def _is_json(headers: Any) -> bool:
    return any(k.lower() == b"content-type" and b"json" in v.lower() for k, v in headers)


def _message(body: bytearray | None) -> str | None:
    """The ``message`` of FirecREST's error body, if `body` is one."""
    if not body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    message = document.get("message") if isinstance(document, dict) else None
    return message if isinstance(message, str) else None


def record_route(req: Request) -> None:
    """Record the matched route's template and `{system}` in the request's record."""
    info = current_request()
    if info is None:
        return
    rule = req.url_rule
    info.endpoint = route_template(rule.rule) if rule is not None else None
    system = (req.view_args or {}).get("system")
    info.system = system if isinstance(system, str) else None


@public  # scrapers have no user token; `metrics.token` guards it instead
async def _metrics_view() -> Response:
    parts = runtime()
    token = parts.config.metrics.token
    if token is not None:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token.reveal()}".encode()):
            raise errors.Unauthorized("A valid metrics token is required")
    return Response(parts.metrics.render(), content_type=parts.metrics.content_type)


def install(app: Quart, metrics: Metrics, *, metrics_path: str | None, requests: RequestStats | None = None) -> None:
    """Add the operator surface to `app`; call it last in `create_app`."""
    if metrics_path is not None:
        app.add_url_rule(metrics_path, "metrics", _metrics_view, methods=["GET"])
    app.asgi_app = ObserveMiddleware(app.asgi_app, metrics, requests=requests)  # type: ignore[method-assign]
