"""Applying the rate limits to a request: the client's bucket before authentication,
the user's and the system's after it; each once per request.

Order in the request path: the route is matched (template and `{system}` recorded);
`enforce_client_rate_limit` takes a token from the client address's bucket, for every
request to a limited route, before the token is looked at, so a flood of bad tokens
is refused with 429 without costing a signature check each; the auth step validates
the token and calls `note_user(user)`; then `enforce_rate_limit` takes a token from
the user's, the system's and the (user, system) buckets (never the client's again). A
refused request gets 429 with FirecREST's error body, Retry-After and RateLimit-*
headers (pyfirecrest sleeps for Retry-After and retries); allowed requests get
RateLimit-* headers too, from the tighter of the two decisions.
"""

from __future__ import annotations

from .. import errors
from ..observability import RequestInfo, current_request
from ..ratelimit import Decision
from ._context import resolved_system, runtime


def _limited(info: RequestInfo) -> bool:
    """Whether the request's route is rate-limited: some limit is configured, and the route is not
    unmatched, the metrics route or exempt."""
    parts = runtime()
    config = parts.config
    return parts.rate_limiter.enabled and not (
        info.endpoint is None or info.endpoint == config.metrics.path or info.endpoint in config.rate_limit.exempt
    )


def _apply(info: RequestInfo, decision: Decision | None) -> None:
    """Keep the tighter decision for the headers; raise RateLimited if it refused."""
    if decision is None:
        return
    if info.rate is None or not decision.allowed or decision.remaining < info.rate.remaining:
        info.rate = decision
    if not decision.allowed:
        runtime().metrics.rate_limited(decision.scope)
        raise errors.RateLimited(
            f"Too many requests ({decision.scope} limit); retry after {decision.retry_after} s",
            retry_after=decision.retry_after,
        )


async def enforce_client_rate_limit() -> None:
    """Take a token from the client address's bucket (`rate_limit.per_client`), before
    authentication. Exempt: unmatched routes, the metrics route and `rate_limit.exempt`.

    Raises:
        RateLimited: the client's bucket is empty; `retry_after` is set.
    """
    info = current_request()
    if info is None or info.client is None or not _limited(info):
        return
    limiter = runtime().rate_limiter
    _apply(info, await limiter.take(user=None, system=None, client=info.client))


async def enforce_rate_limit() -> None:
    """Apply the user's and the system's limits to the current request, unless done already.

    A step of the app's before_request, after the auth step. The client's bucket was taken before authentication
    (`enforce_client_rate_limit`) and is not charged again. Exempt: unmatched
    routes, the metrics route and `rate_limit.exempt`.

    Raises:
        RateLimited: a bucket that applies is empty; `retry_after` is set.
    """
    info = current_request()
    if info is None or info.rate_checked:
        return
    info.rate_checked = True
    if not _limited(info):
        return
    # Only configured systems get buckets: a made-up name in the URL must not make one.
    system = resolved_system()
    name = system.name if system is not None else None
    _apply(info, await runtime().rate_limiter.take(user=info.user, system=name, client=None))

