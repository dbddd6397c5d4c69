"""The record of the request being served, shared by the HTTP layer, the logs and the limiter.

The HTTP middleware opens one `RequestInfo` per request and sets it in a context
variable before the app runs, so every task the request starts sees the same
record: the auth step fills in `user`, the router `endpoint` and `system`, the
access log reads them at the end, and `audit()` takes the ids from it.
"""

from __future__ import annotations

import contextvars
import os
import re
from typing import Any

import attrs

# Ids from clients are echoed into headers and logs: accept only plain tokens.
_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def clean_id(value: str | None) -> str | None:
    """`value` if it is a plain id (at most 128 safe characters), else None."""
    return value if value is not None and _ID.fullmatch(value) else None


def new_request_id() -> str:
    """A fresh request id: a random uuid4 (as pyfirecrest makes them), written as
    `str(uuid.uuid4())` writes it, without making a `uuid.UUID` on every request."""
    raw = os.urandom(16)  # as uuid.uuid4
    h = raw.hex()
    # The version nibble is 4; the variant's two top bits are 10 (RFC 4122).
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[raw[8] >> 4 & 3]}{h[17:20]}-{h[20:]}"


@attrs.define
class RequestInfo:
    """What is known about one request; filled in as it goes through the app."""

    request_id: str
    """The client's X-Request-ID if it sent a plain one, else a generated uuid4."""
    correlation_id: str | None
    """The client's X-Correlation-ID (pyfirecrest: one per client call), if any."""
    method: str
    path: str
    """The raw path, without the query string."""
    client: str | None
    """The peer address (behind a reverse proxy: the proxy's)."""
    endpoint: str | None = None
    """The route template, e.g. ``/compute/{system}/jobs``; None when no route matched."""
    system: str | None = None
    """The `{system}` of the route, if it has one."""
    user: str | None = None
    """The authenticated user, once the auth step has set it (`note_user`)."""
    rate: Any = None
    """The rate limiter's decision for this request (`f7tproxy.ratelimit.Decision`), if a limit applied."""
    rate_checked: bool = False
    """Whether the rate limits have been applied to this request (they are, once)."""
    commands: int = 0
    """Remote commands run for this request so far (counted by `audit`; a request answered by a
    command another request ran, shared or batched, counts none)."""


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar("f7tproxy_request", default=None)


def current_request() -> RequestInfo | None:
    """The record of the request this task serves, or None outside a request."""
    return _current.get()


def note_user(user: str) -> None:
    """Record the authenticated user of the current request (for the access log and limits).

    The auth step calls this once it has validated the token; outside a request it does nothing.
    """
    info = _current.get()
    if info is not None:
        info.user = user


def enter_request(info: RequestInfo) -> contextvars.Token[RequestInfo | None]:
    """Make `info` the current request; pass the token to `exit_request` at the end."""
    return _current.set(info)


def exit_request(token: contextvars.Token[RequestInfo | None]) -> None:
    _current.reset(token)
