"""The authentication and authorization step in front of every route.

Every route needs a valid bearer token unless its view is marked `@public`. Routes
naming a configured system (`_context.resolved_system`) are then authorized (OpenFGA,
when configured); an unknown system is left to the route, which answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart import Request

from ..observability import note_user
from ._context import request_globals, resolved_system, this_app

F = TypeVar("F", bound=Callable[..., object])

_PUBLIC = "_f7t_public"


def public(view: F) -> F:
    """Mark a view as reachable without a token (liveness, OpenAPI, the demo issuer)."""
    setattr(view, _PUBLIC, True)
    return view


async def authenticate_request(req: Request) -> None:
    """`before_request` hook: authenticate, then authorize for the named system."""
    if req.routing_exception is not None:
        return  # unknown route or method: let routing answer 404/405
    app = this_app()
    view = app.view_functions.get(req.endpoint or "")
    if view is None or getattr(view, _PUBLIC, False):
        return
    auth = app.runtime.auth
    user = await auth.authenticate(req.headers.get("Authorization"))
    request_globals().user = user
    note_user(user.name)  # for the access log and the per-user rate limits
    # Only configured systems are checked; an unknown one is the route's 404.
    system = resolved_system()
    if system is not None:
        await auth.authorize(user, system.name)
