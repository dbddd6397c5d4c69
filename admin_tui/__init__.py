"""The operator's dashboard: a Textual app reading f7tproxy's admin socket.

This package is not part of the server process: it runs on asyncio (Textual's
loop) and talks to the server only through the admin socket, never through
live server objects. The rule that one module of `f7tproxy/` alone imports
asyncio is about the server; it does not apply here.

    client.py     AdminClient: the admin protocol over an asyncio Unix stream
    messages.py   the app's Message classes
    widgets/      one module per screen area (status bar, systems, pools, requests, uploads, errors,
                  offline), and dashboard.py laying them out by the terminal's width
    app.py        AdminApp: key bindings, the polling and command workers; ReplicasApp:
                  several servers' sockets side by side, with totals
"""

from .app import AdminApp, ReplicasApp, run, run_replicas

__all__ = ["AdminApp", "ReplicasApp", "run", "run_replicas"]
