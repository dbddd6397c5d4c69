"""Health gating in front of routes: a request to a service last seen unhealthy gets 503.

The gate itself is `runtime.health.gate(system, service)` / `gate_path(system, path)`,
reached per request through the resolved `_context.SystemContext`.
This `before_request` hook adds the gates that are obvious from the route: every
route with a `system` view argument uses SSH, and the compute and transfer routes
the scheduler (`_BLUEPRINT_SERVICES`). The gates that depend on the request are
the handlers': the file system of every path (`_context.checked_path`) and the
S3 staging store (`_transfer._staging`). Status routes are exempt (as in FirecREST,
/status/{system}/... answers even when the cluster is unhealthy), and so is any
view marked `@health_exempt`. For "ssh" the gate also refuses while the system's
circuit breaker is open.

`suspect_after_failure` (an `after_request` hook) wakes the probes of a route's
services when it answered the way a sick service makes requests fail (timeouts,
lost connections, 5xx), so a failing scheduler is seen (and gated) in seconds,
not at the next scheduled probe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart import Request, Response

from ..health import Service
from ._context import SystemContext, blueprint_of, request_globals, resolved_system, this_app

F = TypeVar("F", bound=Callable[..., object])

_EXEMPT = "_f7t_health_exempt"
_EXEMPT_BLUEPRINTS = frozenset({"status"})
_SUSPECT_STATUSES = frozenset({408, 424, 500, 502, 503, 504})
"""Answers that a sick backend service could explain."""
_BLUEPRINT_SERVICES: dict[str, tuple[Service, ...]] = {
    "compute": ("ssh", "scheduler"),
    "transfer": ("ssh", "scheduler"),
}
"""Services every route of a blueprint uses (others: SSH only)."""


def health_exempt(view: F) -> F:
    """Mark a view as answering whatever the health of its system."""
    setattr(view, _EXEMPT, True)
    return view


def gate_request(req: Request) -> None:
    """`before_request` hook (after authentication): gate the services of routes naming a configured system."""
    blueprint = blueprint_of(req)
    system = _gated_system(req, blueprint)
    if system is not None:
        services = _BLUEPRINT_SERVICES.get(blueprint or "", ("ssh",))
        request_globals().f7t_services = services  # the request's lease is cancelled if one turns unhealthy
        for service in services:
            system.gate(service)


def _gated_system(req: Request, blueprint: str | None) -> SystemContext | None:
    """The configured system a gated route (of `blueprint`) names (None for status, exempt or unmatched routes)."""
    if req.routing_exception is not None or blueprint in _EXEMPT_BLUEPRINTS:
        return None
    view = this_app().view_functions.get(req.endpoint or "")
    if view is None or getattr(view, _EXEMPT, False):
        return None
    return resolved_system()


def suspect_after_failure(response: Response, req: Request) -> Response:
    """`after_request` hook: after a failure a sick service explains, probe the route's services soon."""
    if response.status_code not in _SUSPECT_STATUSES:
        return response
    blueprint = blueprint_of(req)
    if (system := _gated_system(req, blueprint)) is not None:
        services = _BLUEPRINT_SERVICES.get(blueprint or "", ("ssh",))
        if blueprint == "transfer":
            services += ("s3",)  # gated per handler (`_transfer._staging`), suspected for all
        for service in services:
            system.health.suspect(system.name, service)
    return response
