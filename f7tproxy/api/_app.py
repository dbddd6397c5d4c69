"""The Quart-Trio application: routes, error mapping and common headers."""

from __future__ import annotations

import logging

from quart import Response, g, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .. import errors
from ..auth import User
from ..runtime import Runtime
from ._auth import authenticate_request
from ._compute import compute
from ._events import job_events as _registers_event_routes  # noqa: F401  (on the compute blueprint)
from ._context import GatewayApp, require_system, resolve_request, this_request
from ._filesystem import filesystem
from ._health import gate_request, suspect_after_failure
from ._observe import install as install_observe
from ._observe import record_route
from ._openapi import APP_VERSION, docs
from ._ratelimit import enforce_client_rate_limit, enforce_rate_limit
from ._share import note_write, note_write_end
from ._status import status
from ._token import demo_issuer
from ._transfer import transfer

log = logging.getLogger(__name__)

_DRAIN_LIMIT = 1024 * 1024


def _error_response(exc: errors.ApiError) -> Response:
    kind = errors.kind_of(exc)
    user = g.get("user")  # the authenticated user, if the error came after auth
    response = jsonify(errors.error_body(exc, user=user.name if isinstance(user, User) else None))
    response.status_code = kind.status
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, errors.Unauthorized):
        response.headers["WWW-Authenticate"] = exc.challenge
    return response


def create_app(runtime: Runtime) -> GatewayApp:
    """Build the app serving `runtime`'s configuration."""
    app = GatewayApp("f7tproxy")
    app.runtime = runtime
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep FirecREST field order
    app.register_blueprint(status)
    app.register_blueprint(filesystem)
    app.register_blueprint(transfer)
    app.register_blueprint(compute)
    app.register_blueprint(docs)
    if runtime.auth.demo_issuer is not None:
        app.register_blueprint(demo_issuer)
    app.before_request(_prepare_request)
    app.teardown_request(note_write_end)  # a write's second epoch: once it has ended, before its answer
    app.after_request(_finish_response)

    @app.errorhandler(errors.ApiError)
    async def api_error(exc: errors.ApiError) -> Response:
        return _error_response(exc)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        # Unknown routes, wrong methods and the like still get FirecREST's error body.
        response = _error_response(errors.ApiError(exc.description or exc.name))
        response.status_code = exc.code or 500
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _error_response(errors.InternalError("Internal server error"))

    # Last: request ids, access log, metrics, the route recorded for them.
    metrics = runtime.config.metrics
    install_observe(
        app, runtime.metrics, metrics_path=metrics.path if metrics.enabled else None, requests=runtime.requests
    )
    return app


async def _prepare_request() -> None:
    """The app's one `before_request` step: the request path's checks, in order.

    One hook rather than one per check: Quart looks each hook up and awaits it on every request.
    """
    req = this_request()  # once, for every step
    record_route(req)  # the route template and `{system}`, for the logs, metrics and limits
    resolve_request(req)  # the route's system, once, for every later step
    # The client's bucket before the token is checked: floods of bad tokens get 429 too.
    await enforce_client_rate_limit()
    await authenticate_request(req)  # records the user (`note_user`) for the per-user limits
    note_write(req.method)  # a write's epoch starts before anything it does
    gate_request(req)
    await enforce_rate_limit()  # the user's and the system's buckets, after auth
    require_system(req)  # after the rate limits: a 404 is charged like any answer


async def _finish_response(response: Response) -> Response:
    """The app's one `after_request` step: common headers, then the health hint of a failure."""
    # A request body left unread (an error answered before the handler read it,
    # a GET with a body) was seen to stall the next request on the same kept-alive
    # connection: read small ones to the end, and close after large ones.
    req = this_request()
    length = req.content_length or 0
    if 0 < length <= _DRAIN_LIMIT:
        await req.get_data(cache=True)
    elif length > _DRAIN_LIMIT and response.status_code >= 400:
        response.headers["Connection"] = "close"
    if response.status_code == 204:
        response.headers.pop("Content-Type", None)  # no content, so no type (Quart sets text/html)
    # pyfirecrest reads this to pick its API level; "2.x.x" keeps all of its 2.6.0 features.
    response.headers["F7T-AppVersion"] = APP_VERSION
    return suspect_after_failure(response, req)

