"""The operator's admin socket: newline-delimited JSON snapshots and commands.

    _requests.py   RequestStats: per-endpoint counts, rates, latency percentiles, recent errors
    _snapshot.py   the `snapshot` document
    _protocol.py   request lines -> answers (snapshot, drain, check-now)
    _server.py     AdminServer: the Unix socket (mode 0600), one task per client
"""

from ._protocol import COMMANDS
from ._requests import RequestStatistics, RequestStats, is_error
from ._server import AdminServer

__all__ = ["COMMANDS", "AdminServer", "RequestStatistics", "RequestStats", "is_error"]
