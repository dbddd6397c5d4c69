"""SSH to the clusters: asyncssh behind a trio-native API, and the per-user connection pool.

    _aio.py          the asyncio boundary (the only importer of asyncio, asyncssh, trio-asyncio)
    _command.py      remote command lines from argument lists
    _credentials.py  ssh_ca, ssh_service, static_keys
    _connector.py    one connection for one user to one cluster
    _breaker.py      CircuitBreaker: fail fast while a cluster is unreachable
    _pool.py         PoolSupervisor: connections, slots, waiters, reaping
    _lease.py        Lease: commands run on one slot
    _stats.py        frozen statistics
"""

from ._aio import Completed, Connection, Process, asyncio_loop, call_aio
from ._breaker import BreakerState, BreakerStatistics, CircuitBreaker
from ._command import remote_command
from ._connector import ClusterConnector, Connector, PoolConnection
from ._credentials import CaSigner, CredentialSource, KeyService, Login, StaticKeys, credential_source
from ._lease import CommandResult, Lease
from ._pool import PoolSupervisor
from ._stats import PoolStatistics, SystemPoolStatistics, UserPoolStatistics

__all__ = [
    "BreakerState",
    "BreakerStatistics",
    "CaSigner",
    "CircuitBreaker",
    "ClusterConnector",
    "CommandResult",
    "Completed",
    "Connection",
    "Connector",
    "CredentialSource",
    "KeyService",
    "Lease",
    "Login",
    "PoolConnection",
    "PoolStatistics",
    "PoolSupervisor",
    "Process",
    "StaticKeys",
    "SystemPoolStatistics",
    "UserPoolStatistics",
    "asyncio_loop",
    "call_aio",
    "credential_source",
    "remote_command",
]
