"""What operators see: Prometheus metrics, the JSON access and audit logs, request ids.

Hook points for the other parts:

- `RequestStats` (one per process, `runtime.requests`): per-endpoint counts, rates, latency
  percentiles and recent errors for the admin socket, fed by the HTTP middleware.
- `Metrics` (one per process, `runtime.metrics`): `ssh_reconnect`, `ssh_failure`,
  `set_pool_source`, `pool_busy` (pool);
  `set_stream_source`, `watcher_command` (job watchers);
  `cache_lookup` (caches of slow-changing answers); `health_probe` (health checker); `token_failure` (auth).
- `audit(...)`: one line per remote action, called by whoever ran it.
- `note_user(name)`: the auth step records the authenticated user of the request.
- `current_request()`: the request record (ids, user, system) of the calling task.
"""

from ._context import RequestInfo, current_request, note_user
from ._logs import audit, configure_logging, log_access
from ._requests import RequestStatistics, RequestStats, is_error
from ._writer import log_writer
from ._metrics import (
    HTTP_METHODS,
    OTHER_METHOD,
    SSH_FAILURE_REASONS,
    TOKEN_FAILURE_REASONS,
    UNMATCHED,
    Metrics,
    PoolGauges,
    SharingStatistics,
    StreamGauges,
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
    "SharingStatistics",
    "RequestInfo",
    "RequestStatistics",
    "RequestStats",
    "StreamGauges",
    "audit",
    "configure_logging",
    "current_request",
    "is_error",
    "log_access",
    "log_writer",
    "method_label",
    "note_user",
]
