"""HealthChecker: one probe loop per (system, service[, path]), and the gate in front of requests.

    HealthChecker.run                 the checker's own nursery
    └── one loop per probe            run, record, sleep until the interval is up or check-now

Each run is bounded by the probe's own timeout, so a hung probe only delays
its own loop. A state change (healthy <-> unhealthy) is logged once.

Fail fast: the ssh probe's results feed the pool's circuit breaker of the
system (`PoolSupervisor.probe_result`), and `gate` refuses while that breaker
is open. While a service is unhealthy, or its system's breaker is open, its
probe runs every `breaker.probe_interval` instead of `probes.interval`, so a
returning service is let in again within about that long; a breaker that
opens, and a request that failed the way a sick service fails (`suspect`),
wake the probes at once, and so does a command that runs suspiciously long
(`PoolSupervisor.on_stall`): hung parts make commands hang rather than fail.
"""

from __future__ import annotations

import collections
import datetime
import logging
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import trio

from .._iso import iso_z
from ..config import ClusterConfig, Config
from ..errors import ApiError, NotFound, ServiceUnavailable
from ..observability import Metrics
from ..ssh import BreakerState, PoolSupervisor
from ._outage import Outages
from ._probes import Probe, ProbeFailed, cluster_probes
from ._result import Service, ServiceHealth

log = logging.getLogger(__name__)

RECENT_EVENTS = 50
"""State changes kept for the admin socket."""


@attrs.frozen
class HealthEvent:
    """A probe's state changed (or its first result was unhealthy)."""

    at: datetime.datetime
    system: str
    service: Service
    path: str | None
    healthy: bool
    message: str | None


@attrs.define(eq=False)
class _Entry:
    probe: Probe
    result: ServiceHealth
    started: int = 0
    completed: int = 0
    wanted: bool = False
    """check-now asked for a run while this one was busy or asleep."""
    wake: trio.Event = attrs.Factory(trio.Event)
    finished: trio.Event = attrs.Factory(trio.Event)


class HealthChecker:
    """Probes every cluster's services and answers whether a request may use them.

    Start it with `await nursery.start(checker.run)`. Until a probe has run,
    its service counts as healthy (FirecREST's behaviour); a result older
    than `STALE_AFTER_INTERVALS` intervals counts as unhealthy.
    """

    def __init__(
        self,
        config: Config,
        pool: PoolSupervisor | None,
        *,
        probes: Mapping[str, Sequence[Probe]] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """`probes` replaces the probes built from the configuration (tests);
        `metrics` counts the requests the gate refuses."""
        self._clusters: dict[str, ClusterConfig] = {c.name: c for c in config.clusters}
        self._pool = pool
        self._metrics = metrics
        self._breaker_open: set[str] = set()
        self.outages = Outages()
        """Requests in flight per service, cancelled (503) when it turns unhealthy (`api._context.lease`)."""
        if pool is not None:
            pool.on_breaker_change(self._breaker_changed)
            pool.on_stall(self._wake)
        if probes is None:
            probes = {c.name: cluster_probes(c, pool) for c in config.clusters} if pool is not None else {}
        self._entries: dict[str, list[_Entry]] = {}
        for name, cluster in self._clusters.items():
            self._entries[name] = [
                _Entry(p, ServiceHealth(
                    system=name, service=p.service, path=p.path,
                    interval=cluster.probes.interval,
                    timeout=cluster.probes.services[p.service].timeout,
                ))
                for p in probes.get(name, ())
            ]
        self._running = False
        self.events: collections.deque[HealthEvent] = collections.deque(maxlen=RECENT_EVENTS)
        self._listeners: list[Callable[[ServiceHealth], None]] = []

    def on_result(self, listener: Callable[[ServiceHealth], None]) -> None:
        """Call `listener` with every new result (metrics); it must not block or raise."""
        self._listeners.append(listener)

    # ------------------------------------------------------------------ service

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run every probe loop until cancelled. Ready at once: results come as probes finish."""
        try:
            async with trio.open_nursery() as nursery:
                for system, entries in self._entries.items():
                    for entry in entries:
                        nursery.start_soon(self._loop, entry, name=f"health {system} {entry.result.label}")
                self._running = True
                task_status.started()
        finally:
            self._running = False

    async def _loop(self, entry: _Entry) -> None:
        while True:
            entry.wanted = False
            entry.wake = trio.Event()
            await self._run_once(entry)
            if entry.wanted:
                continue
            due = trio.current_time() + self._interval(entry)
            entry.result = attrs.evolve(entry.result, next_due=due)
            with trio.move_on_at(due):
                await entry.wake.wait()

    def _interval(self, entry: _Entry) -> float:
        result = entry.result
        if result.healthy is False or result.system in self._breaker_open:
            return min(result.interval, self._clusters[result.system].breaker.probe_interval)
        return result.interval

    def _breaker_changed(self, system: str, state: BreakerState) -> None:
        if state == "closed":
            self._breaker_open.discard(system)
            return
        if system not in self._breaker_open:
            self._breaker_open.add(system)
            self._cancel_in_flight(system, "ssh", f"The SSH login node of {system} is unreachable (circuit breaker open)")
            self._wake(system)

    def _wake(self, system: str, service: Service | None = None) -> None:
        """Run the idle probes of `system` (of one service) now, unless one ran within the probe_interval."""
        cluster = self._clusters.get(system.lower())
        if cluster is None:
            return
        now = trio.current_time()
        for entry in self._entries.get(cluster.name, ()):
            if service is not None and entry.result.service != service:
                continue
            checked = entry.result.checked_at
            if entry.started > entry.completed or (checked is not None and now - checked < cluster.breaker.probe_interval):
                continue  # running now, or just ran
            entry.wanted = True
            entry.wake.set()

    def _cancel_in_flight(self, system: str, service: Service, message: str) -> None:
        cluster = self._clusters.get(system)
        retry_after = cluster.breaker.probe_interval if cluster is not None else 1.0
        cancelled = self.outages.outage(system, service, message, retry_after=retry_after)
        if cancelled:
            log.warning("health: %d request(s) in flight on %s of %s cancelled: %s", cancelled, service, system, message)
            if self._metrics is not None:
                self._metrics.fast_failed(system, service, cancelled)

    def suspect(self, system: str, service: Service) -> None:
        """A request failed the way a sick `service` of `system` would make it fail: probe it soon."""
        self._wake(system, service)

    async def _run_once(self, entry: _Entry) -> None:
        entry.started += 1
        timeout = entry.result.timeout
        start = trio.current_time()
        healthy = False
        message: str | None = None
        with trio.move_on_after(timeout) as scope:
            try:
                message = await entry.probe.check(timeout)
                healthy = True
            except ProbeFailed as exc:
                message = str(exc)
            except ApiError as exc:
                message = exc.message
            except Exception as exc:  # a broken probe must not end its loop
                log.exception("health probe %s of %s failed unexpectedly", entry.result.label, entry.result.system)
                message = f"probe error: {exc.__class__.__name__}: {exc}"
        if scope.cancelled_caught:
            message = f"no answer within {timeout:g} s"
        end = trio.current_time()
        self._record(entry, healthy, message, start, end)

    def _record(self, entry: _Entry, healthy: bool, message: str | None, start: float, end: float) -> None:
        before = entry.result
        entry.result = attrs.evolve(
            before,
            healthy=healthy,
            latency=end - start,
            message=message,
            last_checked=datetime.datetime.now(datetime.UTC),
            checked_at=end,
            since=before.since if before.healthy is healthy else end,
            next_due=None,
        )
        entry.completed += 1
        entry.finished.set()
        entry.finished = trio.Event()
        if entry.result.service == "ssh" and self._pool is not None:
            self._pool.probe_result(entry.result.system, healthy, message)
        if not healthy and entry.result.service != "filesystem":
            service = entry.result.service
            self._cancel_in_flight(entry.result.system, service,
                                   f"The {service} service of {entry.result.system} is unhealthy: {message}")  # fmt: skip
        self._note_change(before, entry.result)
        for listener in self._listeners:
            listener(entry.result)

    def _note_change(self, before: ServiceHealth, after: ServiceHealth) -> None:
        if before.healthy is after.healthy:
            return
        where = f"{after.label} on {after.system}"
        if after.healthy:
            if before.healthy is None:
                log.info("health: %s is healthy", where)
            else:
                log.warning("health: %s is healthy again after %.0f s", where, (after.checked_at or 0) - (before.since or 0))
        else:
            log.warning("health: %s is unhealthy: %s", where, after.message)
        if after.healthy is False or before.healthy is False:
            assert after.healthy is not None and after.last_checked is not None
            self.events.append(HealthEvent(
                after.last_checked, after.system, after.service, after.path, after.healthy, after.message
            ))

    # ------------------------------------------------------------------ check now

    async def check_now(self, system: str) -> tuple[ServiceHealth, ...]:
        """Run every probe of `system` at once and return their new results.

        A probe that is running now is run once more after it ends. Bounded by
        twice the longest probe timeout (plus a second).

        Raises NotFound (unknown system), ServiceUnavailable (checker not running).
        """
        entries = self._system_entries(system)
        if not self._running:
            raise ServiceUnavailable("the health checker is not running", retry_after=5)
        targets = [(entry, entry.started + 1) for entry in entries]
        for entry in entries:
            entry.wanted = True
            entry.wake.set()
        bound = 2 * max((e.result.timeout for e in entries), default=0.0) + 1.0
        with trio.move_on_after(bound):
            for entry, target in targets:
                while entry.completed < target:
                    await entry.finished.wait()
        return tuple(e.result for e in entries)

    # ------------------------------------------------------------------ answers

    def _system_entries(self, system: str) -> list[_Entry]:
        entries = self._entries.get(system.lower())
        if entries is None:
            raise NotFound(f"unknown system {system!r}")
        return entries

    def results(self, system: str | None = None) -> tuple[ServiceHealth, ...]:
        """The latest raw results (of one system, or all), in configuration order."""
        names: Iterable[str] = self._entries if system is None else [system.lower()]
        return tuple(e.result for name in names for e in self._entries.get(name, ()))

    def services_health(self, system: str) -> list[dict[str, Any]] | None:
        """FirecREST's `servicesHealth` for `system`: None if no probe is configured.

        Probes that have not run yet are left out (FirecREST shows a check only once it has run);
        stale results are shown unhealthy.
        """
        entries = self._entries.get(system.lower())
        if not entries:
            return None
        now = trio.current_time()
        answer = [e.result.effective(now).to_firecrest() for e in entries if e.result.checked_at is not None]
        breaker = self._pool.breaker_statistics(system.lower()) if self._pool is not None else None
        if breaker is not None and breaker.state != "closed":
            # FirecREST's shape has no place for it: the ssh entry's message says it.
            since = iso_z(breaker.since, "seconds")
            note = f"circuit breaker {breaker.state} since {since} after {breaker.failures} failure(s)"
            for item in answer:
                if item["serviceType"] == "ssh":
                    item["healthy"] = False
                    item["message"] = f"{item['message']}; {note}" if item["message"] else note
        return answer

    def last_health_check(self, system: str) -> datetime.datetime | None:
        """When the oldest of `system`'s latest results was taken (None if some probe has not run)."""
        entries = self._entries.get(system.lower(), [])
        times = [e.result.last_checked for e in entries]
        if not times or any(t is None for t in times):
            return None
        return min(t for t in times if t is not None)

    def liveness(self) -> dict[str, Any]:
        """`GET /status/liveness/`: FirecREST's fields, plus which results are stale.

        `healthcheckRuns` has, per system whose probes have all run, the time
        of its oldest latest result; `lastUpdate` is the age in seconds of the
        oldest latest result of all (0 before any). An external liveness check
        that fails when `lastUpdate` passes a bound (as FirecREST's Helm chart
        does) so catches a stuck checker. `stale` (ours, present only when some
        result is stale) lists the culprits; otherwise the answer is exactly
        FirecREST's.
        """
        now = trio.current_time()
        runs = {}
        for name in self._entries:
            when = self.last_health_check(name)
            if when is not None:
                runs[name] = iso_z(when)
        ages = [r.age(now) for r in self.results()]
        known = [a for a in ages if a is not None]
        stale = [
            {"system": r.system, "serviceType": r.service, "path": r.path, "age": round(r.age(now) or 0.0, 1)}
            for r in self.results() if r.is_stale(now)
        ]
        answer: dict[str, Any] = {"healthcheckRuns": runs, "lastUpdate": int(max(known)) if known else 0}
        if stale:
            answer["stale"] = stale
        return answer

    # ------------------------------------------------------------------ gate

    def gate(self, system: str, service: Service) -> None:
        """Refuse a request that needs `service` of `system` if it was last seen unhealthy.

        Services never checked (or not probed) are allowed. Raises
        ServiceUnavailable (503) with the probe's message and a Retry-After
        of the time until the next check; for "ssh", CircuitOpen (503) while
        the system's circuit breaker is open.
        """
        if service == "ssh" and self._pool is not None:
            self._pool.check_breaker(system.lower())
        for entry in self._entries.get(system.lower(), ()):
            if entry.result.service == service and service != "filesystem":
                self._refuse_if_unhealthy(entry.result, f"The {service} service of {system} is unhealthy")

    def gate_path(self, system: str, path: str) -> None:
        """Like `gate` for the file system holding `path` (longest configured prefix).

        A path outside every probed file system is not gated here.
        """
        path = posixpath.normpath(path) if path else path
        best: _Entry | None = None
        for entry in self._entries.get(system.lower(), ()):
            mount = entry.result.path
            if entry.result.service != "filesystem" or mount is None:
                continue
            if path == mount or path.startswith(mount.rstrip("/") + "/"):
                if best is None or len(mount) > len(best.result.path or ""):
                    best = entry
        if best is not None:
            self._refuse_if_unhealthy(
                best.result, f"The requested filesystem ({best.result.path} on {system}) is unhealthy"
            )

    def _refuse_if_unhealthy(self, result: ServiceHealth, text: str) -> None:
        now = trio.current_time()
        seen = result.effective(now)
        if seen.healthy is not False:
            return
        if result.next_due is not None and not result.is_stale(now):
            retry = max(1.0, result.next_due - now)
        else:
            retry = max(1.0, result.timeout)
        if self._metrics is not None:
            self._metrics.fast_failed(result.system, result.service)
        raise ServiceUnavailable(f"{text}: {seen.message}", retry_after=retry)
