"""The authentication and authorization step in front of every route.

Every route needs a valid bearer token unless its view is marked `@public`. Routes
with a `system` view argument naming a configured system are then authorized (OpenFGA,
when configured); an unknown system is left to the route, which answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart import current_app, g, request

from ..auth import User
from ..errors import Unauthorized
from ..observability import note_user

F = TypeVar("F", bound=Callable[..., object])

_PUBLIC = "_f7t_public"


def public(view: F) -> F:
    """Mark a view as reachable without a token (liveness, OpenAPI, the demo issuer)."""
    setattr(view, _PUBLIC, True)
    return view


def current_user() -> User:
    """The authenticated user of the current request.

    Raises:
        Unauthorized: called from a public route, where nobody is authenticated.
    """
    user = g.get("user")
    if not isinstance(user, User):
        raise Unauthorized("Not authenticated")
    return user


async def authenticate_request() -> None:
    """`before_request` hook: authenticate, then authorize for the named system."""
    if request.routing_exception is not None:
        return  # unknown route or method: let routing answer 404/405
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, _PUBLIC, False):
        return
    runtime = current_app.runtime  # type: ignore[attr-defined]
    user = await runtime.auth.authenticate(request.headers.get("Authorization"))
    g.user = user
    note_user(user.name)  # for the access log and the per-user rate limits
    system = (request.view_args or {}).get("system")
    # Only configured systems are checked; an unknown one is the route's 404.
    cluster = runtime.config.cluster(system) if isinstance(system, str) else None
    if cluster is not None:
        await runtime.auth.authorize(user, cluster.name)
