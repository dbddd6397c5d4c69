"""Applying the rate limits to a request: after authentication, once per request.

Order in the request path: the route is matched (template and `{system}` recorded),
the auth step validates the token and calls `note_user(user)`, then
`enforce_rate_limit` takes a token from the user's, the system's and the
(user, system) buckets (unauthenticated requests: the client address's). A refused
request gets 429 with FirecREST's error body, Retry-After and RateLimit-* headers
(pyfirecrest sleeps for Retry-After and retries); allowed requests get RateLimit-*
headers too.
"""

from __future__ import annotations

from quart import current_app

from .. import errors
from ..observability import current_request


def enforce_rate_limit() -> None:
    """Apply the rate limits to the current request, unless done already.

    Registered as the app's last before_request; the auth step may also call it
    right after `note_user` if it runs in a blueprint-level hook (those run after
    the app-level ones). Exempt: unmatched routes, the metrics route and
    `rate_limit.exempt`.

    Raises:
        RateLimited: a bucket that applies is empty; `retry_after` is set.
    """
    info = current_request()
    if info is None or info.rate_checked:
        return
    info.rate_checked = True
    runtime = current_app.runtime  # type: ignore[attr-defined]
    config = runtime.config
    if info.endpoint is None or info.endpoint == config.metrics.path or info.endpoint in config.rate_limit.exempt:
        return
    # Only configured systems get buckets: a made-up name in the URL must not make one.
    cluster = config.cluster(info.system) if info.system is not None else None
    system = cluster.name if cluster is not None else None
    decision = runtime.rate_limiter.check(user=info.user, system=system, client=info.client)
    info.rate = decision
    if decision is not None and not decision.allowed:
        runtime.metrics.rate_limited(decision.scope)
        raise errors.RateLimited(
            f"Too many requests ({decision.scope} limit); retry after {decision.retry_after} s",
            retry_after=decision.retry_after,
        )


async def rate_limit_hook() -> None:
    """The before_request form of `enforce_rate_limit` (async: Quart-Trio would run a sync
    hook in a worker thread, away from trio's clock)."""
    enforce_rate_limit()
