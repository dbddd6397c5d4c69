"""SSH to the clusters: the per-user connection pool over `f7tproxy._aio`'s trio-native asyncssh.

    _command.py      remote command lines from argument lists
    _credentials.py  ssh_ca, ssh_service, static_keys
    _connector.py    one connection for one user to one cluster
    _breaker.py      CircuitBreaker: fail fast while a cluster is unreachable
    _pool.py         PoolSupervisor: connections, slots, waiters, reaping
    _lease.py        Lease: commands run on one slot; Runner: what callers need of it
    _runners.py      RunnerSet: a connection's persistent remote runners, one per slot at most
    _stats.py        frozen statistics
"""

from .._aio import Completed, Connection, Process
from ._breaker import BreakerState, BreakerStatistics, CircuitBreaker
from ._command import program_name, remote_command
from ._connector import ClusterConnector, Connector, PoolConnection
from ._credentials import CaSigner, CredentialSource, KeyService, Login, StaticKeys, credential_source
from ._lease import CommandResult, Lease, Runner
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
    "Runner",
    "StaticKeys",
    "SystemPoolStatistics",
    "UserPoolStatistics",
    "credential_source",
    "program_name",
    "remote_command",
]
