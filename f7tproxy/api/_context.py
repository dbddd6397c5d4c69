"""The request context: what a request names, resolved once, read through typed accessors.

`resolve_request` (the app's first `before_request` step after the timer) looks the
route's `{system}` up once and keeps the result, a frozen `SystemContext`, in
Quart's `g`; the auth step keeps the `User` there too; `require_system` (the last
step) answers 404 for an unknown system before any handler runs. The rate limiter, the auth
step, the health gate and the route handlers read both through the accessors
below and never look a system up again. Route files use only this module for
request state: the runtime, the user, the system, an SSH lease, and the request's
body and query parameters (one reader, one validation-error builder).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import attrs
from quart import Quart, Request, current_app, g, request
from quart.sessions import NullSession, SessionInterface, SessionMixin
from quart.wrappers import BaseRequestWebsocket
from quart_trio import QuartTrio
from quart_trio.wrappers import TrioRequest
from werkzeug.datastructures import ImmutableDict

from ..auth import User
from ..config import ClusterConfig
from ..errors import NotFound, Unauthorized
from ..filesystem import OwnerNames, check_path
from ..health import HealthChecker, Service
from ..runtime import Runtime
from ..scheduler import JobService
from ..ssh import Lease
from ..transfer import Staging
from . import _wire
from ._routing import Rule
from ._wire import invalid as invalid  # the one validation-error builder, for route files


T = TypeVar("T")


class GatewayRequest(TrioRequest):
    """Quart's request, with `blueprints` read once: Quart asks it three times per request
    (before, after and teardown hooks), and its property reads the matched endpoint three times."""

    @property
    def blueprints(self) -> list[str]:
        rule = self.url_rule
        name = rule.endpoint.rpartition(".")[0] if rule is not None and rule.endpoint is not None else ""
        return _blueprint_path(name) if name else []


@functools.cache  # one entry per blueprint of the app
def _blueprint_path(name: str) -> list[str]:
    """``a.b.c`` as ``["a.b.c", "a.b", "a"]``: the blueprint and its parents, as Quart lists them."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


class NoSessions(SessionInterface):
    """f7tproxy keeps no sessions (requests carry bearer tokens): every request gets Quart's null
    session at once, without the cookie interface's look for a signing key and a cookie."""

    async def open_session(self, app: Quart, request: BaseRequestWebsocket) -> NullSession:
        return NullSession()

    async def save_session(self, app: Quart, session: SessionMixin, response: Any) -> None:
        return None  # never called: the null session is not saved


class GatewayApp(QuartTrio):
    """QuartTrio with the process's `Runtime` attached."""

    request_class = GatewayRequest
    session_interface = NoSessions()  # type: ignore[assignment]  # Quart's annotation names its default class

    # No automatic OPTIONS answers: as in FirecREST, OPTIONS is a method no route allows
    # (405 with `Allow`). f7tproxy serves no cross-origin requests, so there is no preflight.
    default_config = ImmutableDict({**QuartTrio.default_config, "PROVIDE_AUTOMATIC_OPTIONS": False})
    # URL builders compiled on first use. (mypy rejects Quart's own QuartRule here just the same.)
    url_rule_class = Rule  # type: ignore[assignment]

    runtime: Runtime

    def ensure_async(self, func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        # Quart asks this of every hook and view on every request, and its answer
        # (`inspect.iscoroutinefunction`: unwrapping, several checks) is the costlier part
        # of calling a hook. A plain `async def` function is answered from its code flags.
        # Bound methods too (the session interface's).
        target = func.__func__ if type(func) is types.MethodType else func
        if type(target) is types.FunctionType and target.__code__.co_flags & inspect.CO_COROUTINE:
            return func
        return super().ensure_async(func)


@attrs.frozen
class SystemContext:
    """The configured system a request names, with the parts that serve it."""

    cluster: ClusterConfig
    jobs: JobService
    """The system's scheduler (idempotent submit, read-your-writes)."""
    staging: Staging | None
    """The system's S3 staging store, if it has one."""
    health: HealthChecker
    names: OwnerNames
    """Owner and group names of the system's files, kept."""

    @property
    def name(self) -> str:
        """The system's configured name (the URL's, case folded)."""
        return self.cluster.name

    def gate(self, service: Service) -> None:
        """Raise ServiceUnavailable if `service` of this system was last seen unhealthy."""
        self.health.gate(self.name, service)

    def gate_path(self, path: str) -> None:
        """Raise ServiceUnavailable if the file system holding `path` was last seen unhealthy."""
        self.health.gate_path(self.name, path)

    def job_id(self, raw: str) -> str:
        """`raw` if it is a job id of this system's scheduler. Raises NotFound("Job not found.")."""
        return self.jobs.backend.check_job_id(raw)


# --------------------------------------------------------------------------- the request's parts


def this_app() -> GatewayApp:
    """The app serving the current request, itself (`current_app` is a proxy that looks the app
    up again at every attribute: several calls each)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # werkzeug's LocalProxy API
    assert isinstance(app, GatewayApp), "f7tproxy's routes run only in create_app's app"
    return app


def runtime() -> Runtime:
    """The running process's parts."""
    return this_app().runtime


def request_globals() -> Any:
    """Quart's `g` of the current request, itself (as `this_app`: one lookup, not one per attribute)."""
    return g._get_current_object()  # werkzeug's LocalProxy API


def this_request() -> Request:
    """The request being served, itself: `quart.request` looks it up again at every attribute
    (a context lookup and several calls each), so steps that read several attributes take it once."""
    found: Request = request._get_current_object()  # type: ignore[attr-defined]  # werkzeug's LocalProxy API
    return found


def blueprint_of(req: Request) -> str | None:
    """`req.blueprint`, reading the matched endpoint once (Quart's property reads it three times)."""
    endpoint = req.endpoint
    return endpoint.rpartition(".")[0] or None if endpoint is not None else None


def resolve_request(req: Request) -> None:
    """`before_request` step: resolve the route's `{system}` once (None: none, or not configured)."""
    name = (req.view_args or {}).get("system")
    found = None
    if isinstance(name, str):
        parts = runtime()
        cluster = parts.config.cluster(name)
        if cluster is not None:
            here = cluster.name
            found = SystemContext(cluster, parts.schedulers[here], parts.staging.get(here), parts.health, parts.names[here])
    request_globals().f7t_system = found


def require_system(req: Request) -> None:
    """`before_request` step, after authentication and the rate limits: a route of the API
    naming an unknown system answers 404 before its handler reads anything."""
    if blueprint_of(req) is not None and "system" in (req.view_args or {}):
        current_system()


def resolved_system() -> SystemContext | None:
    """The configured system the route names, or None (no `{system}`, or an unknown one)."""
    found = request_globals().get("f7t_system")
    return found if isinstance(found, SystemContext) else None


def current_system() -> SystemContext:
    """The configured system the route names. Raises NotFound("System not found")."""
    found = resolved_system()
    if found is None:
        raise NotFound("System not found")
    return found


def current_user() -> User:
    """The authenticated user of the current request.

    Raises:
        Unauthorized: called from a public route, where nobody is authenticated.
    """
    user = request_globals().get("user")
    if not isinstance(user, User):
        raise Unauthorized("Not authenticated")
    return user


@asynccontextmanager
async def lease() -> AsyncIterator[Lease]:
    """An SSH lease on the current system as the current user. Check the request's
    inputs before taking one: a lease holds one of the user's pool slots.

    Raises NotFound (unknown system), Unauthorized, and the pool's errors (503, 424).
    """
    system, user = current_system(), current_user()
    # Cancelled (its remote command killed) and answered 503 at once if a service the
    # route uses turns unhealthy meanwhile, rather than waiting out the command's deadline.
    with system.health.outages.watch(system.name, request_globals().get("f7t_services", ("ssh",))):
        async with runtime().pool.lease(system.name, user.name, user.token) as held:
            yield held


async def leased(work: Callable[[Lease], Awaitable[T]]) -> T:
    """`work` run on a `lease()` (for parts that take a lease only when they must, as batched lookups do)."""
    async with lease() as held:
        return await work(held)


# --------------------------------------------------------------------------- body and query


async def json_body() -> dict[str, Any]:
    """The request's JSON object. Raises ValidationFailed if there is none."""
    # Read the whole (small) body before anything can fail: an error answered while
    # the body is still unread can stall the next request on a kept-alive connection.
    raw = await request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (ValueError, RecursionError):  # not UTF-8 (UnicodeDecodeError), not JSON, nested too deep
        body = None
    if not isinstance(body, dict):
        raise invalid("body", "body", "expected a JSON object in UTF-8")
    return body


def field(body: dict[str, Any], *names: str, required: bool = False, default: Any = None) -> Any:
    """The first of `names` present in `body` (aliases). Raises ValidationFailed if required and absent."""
    for name in names:
        if name in body and body[name] is not None:
            return body[name]
    if required:
        raise invalid("body", names[0], "field required")
    return default


def body_bool(body: dict[str, Any], *names: str, default: bool = False) -> bool:
    """A boolean under the first present of `names` (true/false, or their strings). Raises ValidationFailed."""
    value = field(body, *names, default=default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid("body", names[0], f"expected a boolean, got {value!r}")


def query_bool(name: str, default: bool = False) -> bool:
    """A boolean query parameter. Raises ValidationFailed."""
    return _wire.query_bool(request.args, name, default)


def query_str(name: str, *, max_length: int | None = None) -> str | None:
    """A string query parameter, or None if absent. Raises ValidationFailed past `max_length` or with NUL."""
    return _wire.query_str(request.args, name, max_length=max_length)


_INTEGER = re.compile(r"-?[0-9]{1,18}")


def query_int(name: str) -> int | None:
    """Integer query parameter, or None if absent. Raises ValidationFailed."""
    raw = _wire.query_value(request.args, name)
    if raw is None or raw == "":
        return None
    # int() would also take " 12\n", "1_000" and non-ASCII digits.
    if not _INTEGER.fullmatch(raw):
        raise invalid("query", name, f"expected an integer, got {raw!r}")
    return int(raw)


def checked_path(raw: object, *, field: str) -> str:
    """`check_path` on the current system, then the gate of the file system holding the path.

    Raises NotFound (unknown system), ValidationFailed, BadRequest or ServiceUnavailable.
    """
    system = current_system()
    path = check_path(system.cluster, raw, field=field)
    system.gate_path(path)
    return path


def query_path(name: str = "path") -> str:
    """The checked path in query parameter `name`. Raises ValidationFailed (missing), BadRequest or ServiceUnavailable."""
    if name not in request.args:
        raise invalid("query", name, "field required")
    return checked_path(request.args[name], field=name)


def body_path(body: dict[str, Any], *names: str) -> str:
    """The checked path under the first present of `names`."""
    return checked_path(field(body, *names, required=True), field=names[0])


def source_path(body: dict[str, Any]) -> str:
    """The checked source path: `sourcePath`, `source_path` or `path`."""
    return body_path(body, "sourcePath", "source_path", "path")
