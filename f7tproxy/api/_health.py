"""Health gating in front of routes: a request to a service last seen unhealthy gets 503.

The gate itself is `runtime.health.gate(system, service)` / `gate_path(system, path)`,
reached per request through the resolved `_context.SystemContext`.
This `before_request` hook adds the gates that are obvious from the route: every
route with a `system` view argument uses SSH, and the compute and transfer routes
the scheduler (`_BLUEPRINT_SERVICES`). The gates that depend on the request are
the handlers': the file system of every path (`_context.checked_path`) and the
S3 staging store (`_transfer._staging`). Status routes are exempt (as in FirecREST,
/status/{system}/... answers even when the cluster is unhealthy), and so is any
view marked `@health_exempt`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from quart import current_app, request

from ..health import Service
from ._context import resolved_system

F = TypeVar("F", bound=Callable[..., object])

_EXEMPT = "_f7t_health_exempt"
_EXEMPT_BLUEPRINTS = frozenset({"status"})
_BLUEPRINT_SERVICES: dict[str, tuple[Service, ...]] = {
    "compute": ("ssh", "scheduler"),
    "transfer": ("ssh", "scheduler"),
}
"""Services every route of a blueprint uses (others: SSH only)."""


def health_exempt(view: F) -> F:
    """Mark a view as answering whatever the health of its system."""
    setattr(view, _EXEMPT, True)
    return view


async def gate_request() -> None:
    """`before_request` hook (after authentication): gate the services of routes naming a configured system."""
    if request.routing_exception is not None or request.blueprint in _EXEMPT_BLUEPRINTS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, _EXEMPT, False):
        return
    system = resolved_system()
    if system is not None:
        for service in _BLUEPRINT_SERVICES.get(request.blueprint or "", ("ssh",)):
            system.gate(service)
