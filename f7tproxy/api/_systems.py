"""Finding the system a route names."""

from __future__ import annotations

from quart import current_app

from ..config import ClusterConfig
from ..errors import NotFound


def system_or_404(name: str) -> ClusterConfig:
    """The configured system `name` (case-insensitive). Raises NotFound("System not found")."""
    cluster = current_app.runtime.config.cluster(name)  # type: ignore[attr-defined]
    if cluster is None:
        raise NotFound("System not found")
    return cluster  # type: ignore[no-any-return]
