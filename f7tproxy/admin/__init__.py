"""The operator's admin socket: newline-delimited JSON snapshots and commands.

    _source.py     AdminSource: the parts of the running process it reads and drives
    _snapshot.py   the `snapshot` document
    _protocol.py   request lines -> answers (snapshot, drain, check-now)
    _server.py     AdminServer: the Unix socket (mode 0600), one task per client
"""

from ._protocol import COMMANDS
from ._server import AdminServer
from ._source import AdminSource

__all__ = ["COMMANDS", "AdminServer", "AdminSource"]
