"""A connection's keepalive timer, set once per interval instead of once per packet received.

asyncssh resets its keepalive timer on every packet it receives: it cancels the timer and
asks the loop for a new one. On trio-asyncio a new timer is one trip through the loop's
queue, and a cancelled one stays in the loop's heap until it is due (another trip then):
two turns of the loop per packet received, for a timer that matters only after
`keepalive_interval` seconds of silence. `lazy_keepalive` keeps asyncssh's rule with one
timer: a packet only notes when it came; when the timer is due and the connection was
silent for the whole interval, asyncssh's own keepalive runs (a request, and the count of
unanswered ones that drops the connection); else the timer is set for the rest of the
interval since the last packet.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncssh

log = logging.getLogger(__name__)

_NEEDED = (
    "_loop", "_auth_complete", "_keepalive_interval", "_keepalive_timer",
    "_set_keepalive_timer", "_reset_keepalive_timer", "_keepalive_timer_callback",
)  # fmt: skip


def lazy_keepalive(conn: asyncssh.SSHClientConnection) -> None:
    """Make `conn`'s keepalive timer lazy (asyncio side; see the module)."""
    if not all(hasattr(conn, name) for name in _NEEDED):
        log.warning("ssh: asyncssh's connection lacks the keepalive timer where expected: it is reset per packet")
        return
    c: Any = conn
    loop = c._loop
    keepalive = c._keepalive_timer_callback  # asyncssh's: count, send a request, or drop the connection
    last = loop.time()

    def packet_received() -> None:  # in place of asyncssh's _reset_keepalive_timer
        nonlocal last
        last = loop.time()
        if c._auth_complete and c._keepalive_timer is None:
            c._set_keepalive_timer()

    def due() -> None:  # the timer's callback (asyncssh's _set_keepalive_timer sets it)
        interval = c._keepalive_interval
        if not interval:
            c._keepalive_timer = None
            return
        silent = loop.time() - last
        if silent < interval:
            c._keepalive_timer = loop.call_later(interval - silent, due)
        else:
            keepalive()

    c._reset_keepalive_timer = packet_received
    c._keepalive_timer_callback = due
    if c._keepalive_timer is not None:  # set at login, with asyncssh's callback: set it again with ours
        c._keepalive_timer.cancel()
        c._keepalive_timer = None
        c._set_keepalive_timer()
