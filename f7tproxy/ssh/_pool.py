"""The SSH pool: per system and user, a few connections, each with a fixed number of channel slots.

    PoolSupervisor.run                    the supervisor's own nursery
    ├── reaper                            closes idle connections, forgets idle users
    └── one task per connection           opens it, holds it until it closes, cleans up

`lease(system, user)` takes a slot on one of the user's connections with a free
one, or queues. Queued callers of one user are served first come, first served;
connections are opened for them while the user's and the system's limits allow.
When the system's limit is reached, users waiting for a connection are served
fewest-connections-first, and an idle connection of another user is closed to
make room, so one busy user cannot starve the others. Each wait is bounded by
the pool's `lease_timeout`, after which the caller gets PoolBusy (429, Retry-After).

Each system has a circuit breaker (`_breaker.py`) fed by failed connects,
dropped connections and refused channels (and, through `probe_result`, by the
health checker's ssh probe). While it is open, `lease` refuses at once with
CircuitOpen (503 with Retry-After), and callers already waiting get the same
answer when it opens; one trial caller at a time is let through once
`retry_after` has passed; one success closes it again.

All state is changed by plain (non-async) methods, so there are no locks:
trio switches tasks only at awaits.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping

import attrs
import trio

from ..config import ClusterConfig, PoolConfig
from ..errors import (
    ApiError,
    CircuitOpen,
    ConfigError,
    HostKeyMismatch,
    InternalError,
    KeyServiceFailed,
    NotFound,
    PoolBusy,
    ServiceUnavailable,
    SshConnectFailed,
    SshLoginRefused,
)
from ..observability import Metrics
from ._breaker import BreakerState, BreakerStatistics, CircuitBreaker
from ._connector import ClusterConnector, Connector, PoolConnection
from ._lease import Lease
from ._runners import RunnerSet
from ._stats import PoolStatistics, SystemPoolStatistics, UserPoolStatistics

log = logging.getLogger(__name__)

_FORGET_AFTER = 3600.0
"""A user with no connections and no activity for this long is dropped from the pool (and its statistics)."""
_BACKOFF_FIRST = 0.2
_BACKOFF_MAX = 5.0


@attrs.define(eq=False)
class _Conn:
    """A pooled connection and its slots."""

    conn: PoolConnection
    user: _User
    slots: int
    idle_since: float
    scope: trio.CancelScope
    in_use: int = 0
    retiring: bool = False
    """Takes no new leases; closed once its last lease ends."""
    broken: bool = False
    given_up: bool = False
    """Closed to make room for another user's connection."""
    runners: RunnerSet | None = None
    """Its persistent runners (None: `runner: off`, a channel per command)."""

    def free(self) -> int:
        return 0 if self.retiring or self.conn.is_closed() else self.slots - self.in_use


@attrs.define(eq=False)
class _Waiter:
    token: str | None
    event: trio.Event = attrs.Factory(trio.Event)
    conn: _Conn | None = None
    error: ApiError | None = None


@attrs.define(eq=False)
class _User:
    name: str
    last_active: float
    conns: list[_Conn] = attrs.Factory(list)
    connecting: int = 0
    waiters: collections.deque[_Waiter] = attrs.Factory(collections.deque)
    failed_connects: int = 0
    """Consecutive failed connects (for the back-off)."""
    had_drop: bool = False
    leases: int = 0
    commands: int = 0
    failures: int = 0
    busy: int = 0
    connects: int = 0
    reconnects: int = 0
    drops: int = 0
    reaped: int = 0
    runner_starts: int = 0
    runner_restarts: int = 0

    def held(self) -> int:
        """Connections counted against the limits: open, closing or being opened."""
        return len(self.conns) + self.connecting


@attrs.define(eq=False)
class _System:
    cluster: ClusterConfig
    connector: Connector
    breaker: CircuitBreaker
    users: dict[str, _User] = attrs.Factory(dict)
    held: int = 0
    """Connections open, closing or being opened, all users together."""
    queue: list[_User] = attrs.Factory(list)
    """Users waiting for the system's limit to allow another connection."""
    making_room: int = 0
    """Idle connections being closed to make room for users in `queue`."""
    running: dict[object, float] = attrs.Factory(dict)
    """Commands running now (Lease.run, through `_LeaseSlot.running`), with their start times."""

    @property
    def config(self) -> PoolConfig:
        return self.cluster.ssh.pool


class PoolSupervisor:
    """Per-user SSH connections to every cluster, handed out as leases.

    Start it with `await nursery.start(pool.run)`; then any task may use
    `async with pool.lease(system, user) as lease:`.
    """

    def __init__(
        self,
        clusters: Iterable[ClusterConfig],
        *,
        connectors: Mapping[str, Connector] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`connectors` replaces the real SSH connector of some clusters (tests);
        `metrics` counts reconnects and failures.

        Raises ConfigError if a cluster's ssh_ca key cannot be read.
        """
        connectors = connectors or {}
        self._metrics = metrics
        self._breaker_listeners: list[Callable[[str, BreakerState], None]] = []
        self._stall_listeners: list[Callable[[str], None]] = []
        self._systems: dict[str, _System] = {}
        problems = []
        for cluster in clusters:
            connector = connectors.get(cluster.name)
            if connector is None:
                try:
                    connector = ClusterConnector(cluster)
                except ValueError as exc:
                    problems.append(f"cluster {cluster.name}: ssh.credentials.ca_key: cannot read the CA key ({exc})")
                    continue
            breaker = CircuitBreaker(cluster.name, cluster.breaker, on_change=self._breaker_listener(cluster.name))
            self._systems[cluster.name] = _System(cluster, connector, breaker)
        if problems:
            raise ConfigError(problems)
        self._nursery: trio.Nursery | None = None
        self._closing = False

    # ------------------------------------------------------------------ service

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve leases until cancelled; then close every connection (each close bounded)."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._reap, name="ssh pool reaper")
                nursery.start_soon(self._watch_stalls, name="ssh pool stall watch")
                task_status.started()
                try:
                    await trio.sleep_forever()
                finally:
                    # The connection tasks close their connections as they are cancelled.
                    self._closing = True
                    self._fail_all_waiters(ServiceUnavailable("the SSH pool is shutting down", retry_after=5))
        finally:
            self._closing = True
            self._nursery = None

    def _fail_all_waiters(self, error: ApiError, systems: Iterable[_System] | None = None) -> None:
        for sys in self._systems.values() if systems is None else systems:
            for u in sys.users.values():
                while u.waiters:
                    waiter = u.waiters.popleft()
                    waiter.error = error
                    waiter.event.set()
                if u in sys.queue:
                    sys.queue.remove(u)

    # ------------------------------------------------------------------ circuit breakers

    def _breaker_listener(self, system: str) -> Callable[[BreakerState, CircuitOpen | None], None]:
        def changed(state: BreakerState, error: CircuitOpen | None) -> None:
            if error is not None:
                # Known unreachable: nobody waits out the lease timeout for it.
                self._fail_all_waiters(error, [self._systems[system]])
            for listener in self._breaker_listeners:
                listener(system, state)

        return changed

    def on_breaker_change(self, listener: Callable[[str, BreakerState], None]) -> None:
        """Call `listener(system, state)` on every breaker state change; it must not block or raise."""
        self._breaker_listeners.append(listener)

    def on_stall(self, listener: Callable[[str], None]) -> None:
        """Call `listener(system)` while a command on `system` runs past its breaker's `stall_after`
        (at most once per `stall_recheck`); it must not block or raise."""
        self._stall_listeners.append(listener)

    async def _watch_stalls(self) -> None:
        systems = list(self._systems.values())
        if not systems:
            return
        interval = min(s.cluster.breaker.stall_after for s in systems) / 4
        told: dict[str, float] = {}
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            for sys in systems:
                breaker = sys.cluster.breaker
                oldest = min(sys.running.values(), default=now)
                name = sys.cluster.name
                if now - oldest > breaker.stall_after and now - told.get(name, -math.inf) >= breaker.stall_recheck:
                    told[name] = now
                    for listener in self._stall_listeners:
                        listener(name)

    def check_breaker(self, system: str) -> None:
        """Refuse at once (CircuitOpen) if `system`'s breaker would refuse a lease now.

        Takes no half-open trial (the lease does); unknown systems pass.
        """
        sys = self._systems.get(system)
        if sys is not None:
            try:
                sys.breaker.check()
            except CircuitOpen:
                self._fast_failed(sys)
                raise

    def breaker_statistics(self, system: str) -> BreakerStatistics | None:
        """`system`'s circuit breaker now (None for an unknown system)."""
        sys = self._systems.get(system)
        return None if sys is None else sys.breaker.statistics()

    def probe_result(self, system: str, healthy: bool, message: str | None = None) -> None:
        """The health checker's ssh probe verdict for `system` (a failure opens its breaker)."""
        sys = self._systems.get(system)
        if sys is not None:
            sys.breaker.probe_result(healthy, message)

    def _fast_failed(self, sys: _System) -> None:
        if self._metrics is not None:
            self._metrics.fast_failed(sys.cluster.name, "ssh")

    # ------------------------------------------------------------------ leases

    @contextlib.asynccontextmanager
    async def lease(
        self, system: str, user: str, token: str | None = None, *, probe: bool = False
    ) -> AsyncIterator[Lease]:
        """Hold one channel slot on one of `user`'s connections to `system`.

        `token` is the user's JWT; the ssh_service credentials need it to open a
        connection. Waits at most the pool's `lease_timeout` for a slot.
        `probe` (health probes) passes the circuit breaker even while it is open:
        probes are how the checker sees the cluster come back. A probe also waits
        for a slot as long as its own deadline allows, not `lease_timeout`: busy
        slots of the service account say nothing about the cluster's health.

        Raises NotFound (unknown system), PoolBusy (no slot in time; has
        retry_after), CircuitOpen (the system's breaker is open; has retry_after),
        ServiceUnavailable (shutting down), or the connect error
        (SshConnectFailed, HostKeyMismatch, SshLoginRefused, KeyServiceFailed,
        Forbidden, InternalError) when no connection could be opened.
        """
        sys = self._systems.get(system)
        if sys is None:
            raise NotFound(f"unknown system {system!r}")
        try:
            trial = False if probe else sys.breaker.admit()
        except CircuitOpen:
            self._fast_failed(sys)
            raise
        try:
            u = sys.users.get(user)
            if u is None:
                u = sys.users[user] = _User(user, last_active=trio.current_time())
            conn = await self._acquire(sys, u, token, math.inf if probe else sys.config.lease_timeout)
            slot = _LeaseSlot(self, sys, u, conn, token)
            try:
                yield Lease(slot)
            finally:
                if slot.conn is not None:
                    self._release(sys, u, slot.conn)
        finally:
            if trial:
                sys.breaker.end_trial()

    async def _acquire(self, sys: _System, u: _User, token: str | None, timeout: float) -> _Conn:
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._closing or self._nursery is None:
            raise ServiceUnavailable("the SSH pool is not running", retry_after=5)
        u.last_active = trio.current_time()
        if not u.waiters:
            conn = self._free_conn(u)
            if conn is not None:
                self._grant(u, conn)
                await trio.lowlevel.cancel_shielded_checkpoint()
                return conn
        waiter = _Waiter(token)
        u.waiters.append(waiter)
        self._dispatch(sys, u)
        granted_before = u.leases
        try:
            with trio.move_on_after(timeout):
                await waiter.event.wait()
        except BaseException:
            self._abandon(sys, u, waiter)
            raise
        if waiter.conn is not None:
            return waiter.conn
        if waiter.error is not None:
            error = waiter.error
            raise type(error)(error.message, data=error.data, retry_after=error.retry_after)
        self._abandon(sys, u, waiter)
        u.busy += 1
        if self._metrics is not None:
            self._metrics.pool_busy(sys.cluster.name)
        raise PoolBusy(
            f"all SSH channels of user {u.name} on {sys.cluster.name} stayed busy for {timeout:g} s",
            retry_after=_retry_after(len(u.waiters), u.leases - granted_before, timeout),
        )

    def _grant(self, u: _User, conn: _Conn) -> None:
        conn.in_use += 1
        u.leases += 1

    def _abandon(self, sys: _System, u: _User, waiter: _Waiter) -> None:
        """The waiter stopped waiting: give back what it may have been granted."""
        if waiter.conn is not None:
            conn, waiter.conn = waiter.conn, None
            self._release(sys, u, conn)
        else:
            with contextlib.suppress(ValueError):
                u.waiters.remove(waiter)
            if u in sys.queue and not self._wants_connection(sys, u):
                sys.queue.remove(u)

    def _release(self, sys: _System, u: _User, conn: _Conn) -> None:
        conn.in_use -= 1
        now = trio.current_time()
        u.last_active = now
        if conn.in_use == 0:
            conn.idle_since = now
            if conn.retiring:
                conn.scope.cancel()
            elif any(other is not u for other in sys.queue) and sys.making_room < len(sys.queue):
                # Someone else waits for the system's limit: give this connection up.
                self._give_up(sys, conn)
        self._dispatch(sys, u)

    def _give_up(self, sys: _System, conn: _Conn) -> None:
        """Close `conn` (now, or when its last lease ends) to make room for another user."""
        conn.user.reaped += 1
        conn.retiring = conn.given_up = True
        sys.making_room += 1
        if conn.in_use == 0:
            conn.scope.cancel()

    def _drop(self, conn: _Conn) -> None:
        """`conn` is broken: take no more leases on it and close it now."""
        if not conn.broken:
            conn.broken = conn.retiring = True
            conn.scope.cancel()

    # ------------------------------------------------------------------ dispatch

    def _free_conn(self, u: _User) -> _Conn | None:
        # The least used connection: spread the load over sshd's per-connection processes.
        best = max(u.conns, key=_Conn.free, default=None)
        return best if best is not None and best.free() > 0 else None

    def _dispatch(self, sys: _System, u: _User) -> None:
        """Give free slots to `u`'s waiters in order; open connections for the rest if allowed."""
        while u.waiters:
            conn = self._free_conn(u)
            if conn is None:
                break
            waiter = u.waiters.popleft()
            self._grant(u, conn)
            waiter.conn = conn
            waiter.event.set()
        if self._closing or self._nursery is None or not self._wants_connection(sys, u):
            return
        if u not in sys.queue:
            if sys.queue:
                sys.queue.append(u)  # others wait for the system's limit already: after them
            else:
                while self._wants_connection(sys, u) and sys.held < sys.config.max_connections:
                    self._start_connect(sys, u)
                if self._wants_connection(sys, u):
                    sys.queue.append(u)
        if u in sys.queue:
            self._serve_queue(sys)
        if u in sys.queue:
            self._make_room(sys, u)

    def _wants_connection(self, sys: _System, u: _User) -> bool:
        coming = u.connecting * sys.config.sessions_per_connection
        return len(u.waiters) > coming and u.held() < sys.config.max_connections_per_user

    def _make_room(self, sys: _System, u: _User) -> None:
        """At the system's limit, close another user's connection for `u`.

        The longest-idle connection goes first. If none is idle, the user with
        the most connections (more than `u` has) drains one: it takes no new
        leases and closes when its last lease ends. So a user flooding the
        system cannot keep others out.
        """
        if sys.making_room >= len(sys.queue):
            return
        idle = [
            c for other in sys.users.values() if other is not u
            for c in other.conns if c.in_use == 0 and not c.retiring
        ]  # fmt: skip
        if idle:
            self._give_up(sys, min(idle, key=lambda c: c.idle_since))
            return
        live = {other: [c for c in other.conns if not c.retiring] for other in sys.users.values() if other is not u}
        if not live:
            return
        richest = max(live, key=lambda other: len(live[other]))
        if len(live[richest]) > u.held():
            self._give_up(sys, min(live[richest], key=lambda c: c.in_use))

    def _serve_queue(self, sys: _System) -> None:
        """The system's limit allows more connections: users waiting for one go first, fewest connections first."""
        while sys.queue and sys.held < sys.config.max_connections and not self._closing:
            u = min(sys.queue, key=lambda q: (q.held(), sys.queue.index(q)))
            sys.queue.remove(u)
            if self._wants_connection(sys, u):
                self._start_connect(sys, u)
                if self._wants_connection(sys, u):
                    sys.queue.append(u)

    def _start_connect(self, sys: _System, u: _User) -> None:
        assert self._nursery is not None
        # Use the token of a waiter whose request had one (ssh_service needs it).
        token = next((w.token for w in u.waiters if w.token is not None), None)
        u.connecting += 1
        sys.held += 1
        self._nursery.start_soon(self._hold, sys, u, token, name=f"ssh {u.name}@{sys.cluster.name}")

    def report_failure(self, sys: _System, reason: str) -> None:
        """Count a failed connect, login or channel open of `sys` in the metrics."""
        if self._metrics is not None:
            self._metrics.ssh_failure(sys.cluster.name, reason)

    # ------------------------------------------------------------------ connections

    async def _hold(self, sys: _System, u: _User, token: str | None) -> None:
        """Open one connection for `u`, keep it until it closes or is closed, then clean up."""
        try:
            conn = await sys.connector(u.name, token)
        except BaseException as exc:
            await self._connect_failed(sys, u, exc)
            return
        u.connecting -= 1
        u.connects += 1
        u.failed_connects = 0
        sys.breaker.success()
        if u.had_drop:
            u.reconnects += 1
            u.had_drop = False
            if self._metrics is not None:
                self._metrics.ssh_reconnect(sys.cluster.name)
        pooled = _Conn(
            conn, u, sys.config.sessions_per_connection,
            idle_since=trio.current_time(), scope=trio.CancelScope(), runners=self._runner_set(sys, u, conn),
        )  # fmt: skip
        u.conns.append(pooled)
        log.debug("ssh pool: connected %s", conn.label)
        self._dispatch(sys, u)
        try:
            with pooled.scope:
                await conn.wait_closed()
            if not pooled.retiring:
                pooled.broken = True
        finally:
            u.conns.remove(pooled)
            sys.held -= 1
            if pooled.given_up:
                sys.making_room -= 1
            if pooled.broken:
                log.info("ssh pool: connection %s broke", conn.label)
                self.report_failure(sys, "disconnect")
                sys.breaker.failure(f"connection {conn.label} dropped")
                u.drops += 1
                u.had_drop = True
            with trio.CancelScope(shield=True):
                await conn.aclose()
            self._serve_queue(sys)
            self._dispatch(sys, u)

    def _runner_set(self, sys: _System, u: _User, conn: PoolConnection) -> RunnerSet | None:
        if sys.cluster.ssh.runner == "off":
            return None
        name = sys.cluster.name
        metrics = self._metrics

        def started(restart: bool) -> None:
            u.runner_starts += 1
            u.runner_restarts += restart
            if metrics is not None:
                metrics.ssh_runner_started(name, restart=restart)

        def fell_back(reason: str) -> None:
            if metrics is not None:
                metrics.ssh_runner_fallback(name)

        return RunnerSet(
            conn, slots=sys.config.sessions_per_connection, start_timeout=sys.config.command_timeout,
            on_start=started, on_fallback=fell_back,
        )  # fmt: skip

    async def _connect_failed(self, sys: _System, u: _User, exc: BaseException) -> None:
        try:
            if not isinstance(exc, Exception):
                raise exc  # Cancelled (shutdown): nothing to report to anyone
            if not isinstance(exc, ApiError):
                log.error("ssh pool: connecting %s to %s failed unexpectedly", u.name, sys.cluster.name,
                          exc_info=exc)
                exc = InternalError("opening an SSH connection failed unexpectedly")
            assert isinstance(exc, ApiError)
            log.warning("ssh pool: %s", exc.message)
            self.report_failure(sys, _failure_reason(exc))
            if type(exc) is SshConnectFailed:
                # Unreachable (refused, timed out, reset); not one user's refused key.
                sys.breaker.failure(exc.message)
            u.failures += 1
            u.failed_connects += 1
            if not u.conns and u.connecting == 1:
                # Nothing else will serve the waiters: they get this error now.
                while u.waiters:
                    waiter = u.waiters.popleft()
                    waiter.error = exc
                    waiter.event.set()
            else:
                # Others may still serve them; back off before trying again.
                delay = min(_BACKOFF_FIRST * 2 ** (u.failed_connects - 1), _BACKOFF_MAX)
                await trio.sleep(delay)
        finally:
            u.connecting -= 1
            sys.held -= 1
            self._serve_queue(sys)
            self._dispatch(sys, u)

    # ------------------------------------------------------------------ idle

    async def _reap(self) -> None:
        idle_timeouts = [s.config.idle_timeout for s in self._systems.values()] or [60.0]
        interval = min(max(min(idle_timeouts) / 4, 0.05), 5.0)
        while True:
            await trio.sleep(interval)
            now = trio.current_time()
            for sys in self._systems.values():
                for u in list(sys.users.values()):
                    for conn in u.conns:
                        if conn.in_use == 0 and not conn.retiring and now - conn.idle_since >= sys.config.idle_timeout:
                            log.debug("ssh pool: closing idle %s", conn.conn.label)
                            u.reaped += 1
                            conn.retiring = True
                            conn.scope.cancel()
                    if not u.held() and not u.waiters and now - u.last_active > _FORGET_AFTER:
                        del sys.users[u.name]

    async def drain(self, system: str, user: str) -> int:
        """Close `user`'s connections to `system`: idle ones now, busy ones when their leases end.

        Returns how many connections were marked. Raises NotFound for an unknown system.
        """
        await trio.lowlevel.checkpoint()
        sys = self._systems.get(system)
        if sys is None:
            raise NotFound(f"unknown system {system!r}")
        u = sys.users.get(user)
        marked = 0
        for conn in u.conns if u is not None else ():
            if not conn.retiring:
                conn.retiring = True
                marked += 1
                if conn.in_use == 0:
                    conn.scope.cancel()
        return marked

    # ------------------------------------------------------------------ statistics

    def statistics(self) -> PoolStatistics:
        """A frozen snapshot of every system's and user's pool."""
        now = trio.current_time()
        return PoolStatistics(tuple(self._system_statistics(sys, now) for sys in self._systems.values()))

    def _system_statistics(self, sys: _System, now: float) -> SystemPoolStatistics:
        users = tuple(_user_statistics(u, now) for u in sys.users.values())
        return SystemPoolStatistics(
            system=sys.cluster.name,
            connections=sys.held,
            max_connections=sys.config.max_connections,
            users_waiting_to_connect=len(sys.queue),
            users=users,
            breaker=sys.breaker.statistics(),
        )


def _user_statistics(u: _User, now: float) -> UserPoolStatistics:
    in_use = sum(c.in_use for c in u.conns)
    return UserPoolStatistics(
        user=u.name,
        connections=len(u.conns),
        connecting=u.connecting,
        slots=sum(c.slots for c in u.conns if not c.retiring),
        slots_in_use=in_use,
        waiters=len(u.waiters),
        idle_seconds=0.0 if in_use or u.waiters else now - u.last_active,
        leases=u.leases,
        commands=u.commands,
        failures=u.failures,
        busy=u.busy,
        connects=u.connects,
        reconnects=u.reconnects,
        drops=u.drops,
        reaped=u.reaped,
        runner_starts=u.runner_starts,
        runner_restarts=u.runner_restarts,
    )


def _retry_after(queued: int, granted: int, waited: float) -> int:
    """Seconds until the user's slots have served the `queued` requests still waiting and one more,
    at the rate they turned over (`granted` leases in the last `waited` seconds); at least 1, at
    most the wait itself (nothing turned over: the slots are held by long commands)."""
    longest = max(1, math.ceil(waited))
    if granted <= 0:
        return longest
    return min(max(1, math.ceil((queued + 1) * waited / granted)), longest)


def _failure_reason(exc: ApiError) -> str:
    """The metrics reason of a failed connect (one of SSH_FAILURE_REASONS)."""
    for cls, reason in (
        (HostKeyMismatch, "host_key"),
        (SshLoginRefused, "auth"),
        (KeyServiceFailed, "credentials"),
        (SshConnectFailed, "connect"),
    ):
        if isinstance(exc, cls):
            return reason
    return "other"


class _LeaseSlot:
    """A lease's slot as the lease sees it (`Slot`); the bookkeeping behind it stays in the pool."""

    def __init__(self, pool: PoolSupervisor, sys: _System, u: _User, conn: _Conn, token: str | None) -> None:
        self._pool = pool
        self._sys = sys
        self._user = u
        self._token = token
        self.conn: _Conn | None = conn
        """None only while the slot moves to another connection."""

    @property
    def system(self) -> str:
        return self._sys.cluster.name

    @property
    def user(self) -> str:
        return self._user.name

    @property
    def command_timeout(self) -> float:
        return self._sys.config.command_timeout

    @property
    def output_limit(self) -> int:
        return self._sys.cluster.max_ops_file_size

    @property
    def connection(self) -> PoolConnection:
        assert self.conn is not None
        return self.conn.conn

    @property
    def label(self) -> str:
        return self.conn.conn.label if self.conn is not None else "-"

    @property
    def runners(self) -> RunnerSet | None:
        assert self.conn is not None
        return self.conn.runners

    def command_started(self) -> None:
        self._user.commands += 1

    def command_failed(self) -> None:
        self._user.failures += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        key = object()
        self._sys.running[key] = trio.current_time()  # watched for stalls by the pool
        try:
            yield
        finally:
            del self._sys.running[key]

    def channel_opened(self) -> None:
        self._sys.breaker.success()

    def channel_refused(self) -> None:
        self._pool.report_failure(self._sys, "channel")

    def cluster_failure(self, reason: str) -> None:
        self._sys.breaker.failure(reason)

    def connection_lost(self) -> None:
        assert self.conn is not None
        self._pool._drop(self.conn)

    async def relocate(self) -> None:
        old, self.conn = self.conn, None
        if old is not None:
            self._pool._drop(old)
            self._pool._release(self._sys, self._user, old)
        self.conn = await self._pool._acquire(self._sys, self._user, self._token, self._sys.config.lease_timeout)
