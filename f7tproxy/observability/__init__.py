"""What operators see: Prometheus metrics, the JSON access and audit logs, request ids.

Hook points for the other parts:

- `Metrics` (one per process, `runtime.metrics`): `ssh_reconnect`, `ssh_failure`,
  `set_pool_source`, `pool_busy` (pool);
  `cache_lookup` (caches of slow-changing answers); `health_probe` (health checker); `token_failure` (auth).
- `audit(...)`: one line per remote action, called by whoever ran it.
- `note_user(name)`: the auth step records the authenticated user of the request.
- `current_request()`: the request record (ids, user, system) of the calling task.
"""

from ._context import RequestInfo, current_request, note_user
from ._logs import audit, configure_logging, log_access
from ._writer import log_writer
from ._metrics import (
    HTTP_METHODS,
    OTHER_METHOD,
    SSH_FAILURE_REASONS,
    TOKEN_FAILURE_REASONS,
    UNMATCHED,
    Metrics,
    PoolGauges,
    method_label,
)

__all__ = [
    "HTTP_METHODS",
    "OTHER_METHOD",
    "SSH_FAILURE_REASONS",
    "TOKEN_FAILURE_REASONS",
    "UNMATCHED",
    "Metrics",
    "PoolGauges",
    "RequestInfo",
    "audit",
    "configure_logging",
    "current_request",
    "log_access",
    "log_writer",
    "method_label",
    "note_user",
]
