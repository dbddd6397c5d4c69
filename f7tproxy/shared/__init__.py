"""State shared by replicas behind a load balancer, in Redis (`shared_state.redis`).

    _store.py       SharedStore: the coredis client, one deadline per call, failures counted
    _ratelimit.py   SharedRateLimiter: token buckets in Redis, one atomic script per check
    _submits.py     SharedSubmits: recent submits and idempotency markers (read-your-writes,
                    Idempotency-Key replay on any replica)
    _events.py      SharedEventNumbers: the job streams' numbered states (Last-Event-ID resumed
                    on any replica)

Without `shared_state`, none of this is built and nothing imports coredis.
"""

from ._events import EVENTS_TTL, SharedEventNumbers
from ._ratelimit import SharedRateLimiter
from ._store import SharedStore
from ._submits import SharedSubmits

__all__ = ["EVENTS_TTL", "SharedEventNumbers", "SharedRateLimiter", "SharedStore", "SharedSubmits"]
