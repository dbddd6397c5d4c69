"""The HTTP API: a Quart-Trio app serving FirecREST v2's routes."""

from ._app import create_app

__all__ = ["create_app"]
