"""Rate limits per user, system and client: token buckets on trio's clock."""

from ._limiter import Decision, RateLimiter, decide

__all__ = ["Decision", "RateLimiter", "decide"]
