"""Fewer remote commands: concurrent callers asking the same thing are coalesced into one answer.

In-process only (the state replicas keep in Redis is `f7tproxy.shared`).

    SingleFlight   concurrent calls with one key run one fetch; the others wait for it
    SharedReads    identical concurrent reads of one user on one system share one remote
                   command, never across that user's last write there (write epochs)
    Batcher        lookups of several ids arriving together are answered by one fetch
    TtlCache       answers kept a short time, bounded, one fetch per key at a time
"""

from ._batch import BatchLookup, Batcher
from ._cache import Lookup, TtlCache
from ._flight import SingleFlight
from ._reads import ReadLookup, SharedReads

__all__ = ["BatchLookup", "Batcher", "Lookup", "ReadLookup", "SharedReads", "SingleFlight", "TtlCache"]
