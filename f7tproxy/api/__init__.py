"""The HTTP API: a Quart-Trio app serving FirecREST v2's routes."""

from ._app import create_app
from ._auth import public
from ._context import current_user
from ._health import health_exempt
from ._ratelimit import enforce_rate_limit

__all__ = ["create_app", "current_user", "enforce_rate_limit", "health_exempt", "public"]
