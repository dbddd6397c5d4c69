"""Opening one SSH connection for one user to one cluster."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

import trio

from ..config import ClusterConfig
from ..errors import SshConnectFailed
from .._aio import Completed, Process, RemoteRunner, connect
from ._credentials import CredentialSource, credential_source


class PoolConnection(Protocol):
    """What the pool needs from a connection (`_aio.Connection`, or a fake in tests)."""

    label: str

    def is_closed(self) -> bool: ...

    async def run(self, command: str, *, stdin: bytes | None, output_limit: int) -> Completed: ...

    def open_process(self, command: str, *, stderr_limit: int) -> AbstractAsyncContextManager[Process]: ...

    async def start_runner(self, *, interpreter: str, start_timeout: float) -> RemoteRunner: ...

    async def wait_closed(self) -> None: ...

    async def aclose(self) -> None: ...


class Connector(Protocol):
    """Opens a logged-in connection for `user` (with the user's JWT, if the request had one)."""

    async def __call__(self, user: str, token: str | None) -> PoolConnection: ...


class ClusterConnector:
    """Connects to one cluster's login node with its configured credentials and known_hosts."""

    def __init__(self, cluster: ClusterConfig, credentials: CredentialSource | None = None) -> None:
        """Raises ValueError if the cluster's ssh_ca key cannot be read."""
        self._ssh = cluster.ssh
        self._credentials = credentials or credential_source(
            cluster.ssh.credentials, service_account=cluster.service_account
        )

    async def __call__(self, user: str, token: str | None) -> PoolConnection:
        """Raises an ApiError: SshConnectFailed (or its HostKeyMismatch, SshLoginRefused),
        KeyServiceFailed, Forbidden or InternalError from the credentials."""
        login = await self._credentials.login(user, token)
        pool = self._ssh.pool
        # asyncssh enforces both timeouts; this is the backstop.
        limit = pool.connect_timeout + pool.login_timeout + 1
        with trio.move_on_after(limit):
            return await connect(
                self._ssh.host,
                self._ssh.port,
                username=user,
                key=login.key,
                certificate=login.certificate,
                known_hosts=self._ssh.known_hosts,
                connect_timeout=pool.connect_timeout,
                login_timeout=pool.login_timeout,
                keepalive_interval=pool.keepalive_interval,
                keepalive_count_max=pool.keepalive_count_max,
            )
        raise SshConnectFailed(f"SSH connection to {self._ssh.host}:{self._ssh.port} timed out after {limit:.0f} s")


__all__ = ["ClusterConnector", "Connector", "PoolConnection"]
