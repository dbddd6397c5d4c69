"""The app's operator surface: request ids, the access log, request metrics, /metrics.

`install(app)` wraps the app in an ASGI middleware that sees every HTTP request
from its first byte to the end of its response (so durations include streaming
bodies and the status is the one really sent), and adds:

- a URL-value preprocessor, which runs before every before_request function, that
  records the route template and `{system}` of the matched route;
- the after-auth rate-limit before_request (`_ratelimit.rate_limit_hook`; the client's
  bucket is taken before auth, by `create_app`);
- the metrics route.
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGIReceiveEvent, ASGISendCallable, ASGISendEvent, Scope
from quart import Quart, Response, request

from .. import errors
from ..observability import Metrics, RequestInfo, current_request, log_access
from ..observability._context import clean_id, enter_request, exit_request, new_request_id
from ._auth import public
from ._context import runtime
from ._ratelimit import rate_limit_hook

CLIENT_CLOSED = 499
"""The status logged and counted for a request whose client closed the connection before any answer."""

_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route_template(rule: str) -> str:
    """Quart's ``/compute/<system>/jobs/<int:jobid>`` as ``/compute/{system}/jobs/{jobid}``."""
    return _CONVERTER.sub(r"{\1}", rule)


class ObserveMiddleware:
    """ASGI middleware: one `RequestInfo` per request, ids in and out, access log and metrics."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        info = RequestInfo(
            request_id=clean_id(headers.get("x-request-id")) or new_request_id(),
            correlation_id=clean_id(headers.get("x-correlation-id")),
            method=scope["method"],
            path=scope["path"],
            client=client[0] if client else None,
        )
        status: int | None = None
        disconnected = False
        started = time.perf_counter()

        async def receive_noting_disconnect() -> ASGIReceiveEvent:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def send_with_ids(message: ASGISendEvent) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = {"x-request-id": info.request_id}
                if info.correlation_id is not None:
                    extra["x-correlation-id"] = info.correlation_id
                if info.rate is not None:
                    extra.update((k.lower(), v) for k, v in info.rate.headers().items())
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        token = enter_request(info)
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive_noting_disconnect, send_with_ids)
        finally:
            if status is None:
                # No answer was sent: the client went away first (nginx's 499), or the app failed.
                status = CLIENT_CLOSED if disconnected else 500
            self.metrics.in_flight.dec()
            exit_request(token)
            duration = time.perf_counter() - started
            self.metrics.observe_request(info.endpoint, info.method, status, duration)
            log_access(info, status=status, duration=duration)


def _record_route(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    info = current_request()
    if info is None:
        return
    rule = request.url_rule
    info.endpoint = route_template(rule.rule) if rule is not None else None
    system = (values or {}).get("system")
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


def install(app: Quart, metrics: Metrics, *, metrics_path: str | None) -> None:
    """Add the operator surface to `app`; call it last in `create_app`.

    Its before_request (rate limits) is registered last, so it runs after the auth
    step's app-level before_request has recorded the user (`note_user`).
    """
    app.url_value_preprocessor(_record_route)
    app.before_request(rate_limit_hook)
    if metrics_path is not None:
        app.add_url_rule(metrics_path, "metrics", _metrics_view, methods=["GET"])
    app.asgi_app = ObserveMiddleware(app.asgi_app, metrics)  # type: ignore[method-assign]
