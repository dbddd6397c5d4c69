"""Jobs on one system: the backend, plus what f7tproxy adds to FirecREST.

- Idempotent submit (FirecREST issue #76): a client's `Idempotency-Key` becomes
  a marker stored with the job. A submit with a key first looks for a job that
  carries its marker, here and in the scheduler, so a retry after a timeout
  gets the job that was made instead of a second one. Submits with the same
  key wait for each other. f7tproxy never retries a submit by itself.
- Read-your-writes: a job this process just submitted is answered from memory
  until the scheduler's own listing shows it.
- Batched lookups: concurrent lookups of single jobs of one user (`lookup_job`,
  `lookup_metadata`) arriving within the scheduler's `lookup_window` are answered
  by one `squeue`/`sacct` (and one script command) for all their ids.
- Replicas (`shared_state`): a `SubmitLog` in Redis holds the same records for
  every replica, so a job submitted through one is found through another at once,
  and a retry with the same key on another replica replays; submits with one key
  wait for each other on all replicas. This process's records are kept as well:
  a Redis outage costs only what other replicas did.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, TypeVar

import attrs
import cattrs
import trio

from ..config import ClusterConfig
from ..errors import NotFound
from ..coalesce import BatchLookup, Batcher
from ..ssh import Runner
from ._backend import SchedulerBackend
from ._models import Job, JobMetadata, JobQuery, JobSpec, JobStatus, JobTime

log = logging.getLogger(__name__)

RECENT_TTL = 300.0
"""How long a submitted job is remembered for read-your-writes (seconds)."""
MARKER_TTL = 86400.0
"""How long an idempotency key is remembered in this process (seconds)."""
MARKER_PREFIX = "f7t-idem:"
SUBMIT_LOCK_TTL = 120.0
"""Longest a submit with a key holds the replicas' lock on it (a dead replica's lock expires)."""

_convert = cattrs.Converter()


class SubmitLog(Protocol):
    """Submit records shared by replicas (`f7tproxy.shared.SharedSubmits`). Never raises for
    an unreachable store: reads then find nothing, writes are dropped."""

    async def remember(self, system: str, user: str, job_id: str, record: dict[str, Any]) -> None: ...
    async def recent(self, system: str, user: str) -> dict[str, dict[str, Any]]: ...
    async def forget(self, system: str, user: str, job_ids: list[str]) -> None: ...
    async def marked(self, marker: str) -> str | None: ...
    async def mark(self, marker: str, job_id: str) -> None: ...
    def lock(self, marker: str) -> AbstractAsyncContextManager[None]: ...


T = TypeVar("T")


class Leasing(Protocol):
    """Runs `work` on a lease of the caller's (taken only by the lookup that fetches)."""

    async def __call__(self, work: Callable[[Runner], Awaitable[T]]) -> T: ...


@attrs.frozen
class Submitted:
    """The answer to a submit: the job's id, and whether an earlier submit with the same key made it."""

    job_id: str
    replayed: bool = False


@attrs.define
class _Recent:
    job: Job
    user: str
    at: float


class JobService:
    """Jobs on one system, through its scheduler backend; one per configured cluster."""

    def __init__(
        self,
        cluster: ClusterConfig,
        backend: SchedulerBackend,
        *,
        clock: Callable[[], float] = trio.current_time,
        on_lookup: Callable[[str, BatchLookup], None] | None = None,
        shared: SubmitLog | None = None,
    ) -> None:
        """`on_lookup(kind, how)` hears how each batched lookup (`job`, `metadata`) was answered."""
        self.cluster = cluster
        self.backend = backend
        self._clock = clock
        self._shared = shared
        window, most = cluster.scheduler.lookup_window, cluster.scheduler.lookup_batch

        def counter(kind: str) -> Callable[[BatchLookup], None] | None:
            return None if on_lookup is None else (lambda how: on_lookup(kind, how))

        self._job_batches: Batcher[list[Job]] = Batcher(window=window, max_ids=most, on_lookup=counter("job"))
        self._metadata_batches: Batcher[list[JobMetadata]] = Batcher(
            window=window, max_ids=most, on_lookup=counter("metadata")
        )
        self._recent: dict[str, _Recent] = {}
        self._submitted: dict[str, float] = {}
        """When jobs were submitted through this process (kept RECENT_TTL), for the watchers' pace."""
        self._markers: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, tuple[trio.Lock, int]] = {}

    @staticmethod
    def marker(system: str, user: str, key: str) -> str:
        """The marker for a client's idempotency key: the same for the same user, system and key."""
        digest = hashlib.sha256(f"{system}\0{user}\0{key}".encode()).hexdigest()[:32]
        return MARKER_PREFIX + digest

    # ------------------------------------------------------------------ submit

    async def submit(self, run: Runner, user: str, spec: JobSpec, idempotency_key: str | None = None) -> Submitted:
        """Submit `spec` as `user`; with a key, at most once per key.

        Raises what the backend raises. After SshConnectionLost or CommandTimeout
        the job may exist: a client retrying with the same key will find it.
        """
        if idempotency_key is None:
            job_id = await self.backend.submit(run, spec)
            await self._remember(user, job_id, spec)
            return Submitted(job_id)
        marker = self.marker(self.cluster.name, user, idempotency_key)
        async with self._lock(marker), self._shared_lock(marker):
            self._expire()
            known = self._markers.get(marker)
            if known is not None:
                return Submitted(known[0], replayed=True)
            shared = await self._shared.marked(marker) if self._shared is not None else None
            found = shared or await self.backend.find_marked(run, user, marker)
            if found is not None:
                self._markers[marker] = (found, self._clock())
                return Submitted(found, replayed=True)
            job_id = await self.backend.submit(run, attrs.evolve(spec, marker=marker))
            self._markers[marker] = (job_id, self._clock())
            if self._shared is not None:
                await self._shared.mark(marker, job_id)
            await self._remember(user, job_id, spec)
            return Submitted(job_id)

    @asynccontextmanager
    async def _shared_lock(self, marker: str) -> AsyncIterator[None]:
        if self._shared is None:
            yield
            return
        async with self._shared.lock(marker):
            yield

    @asynccontextmanager
    async def _lock(self, marker: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(marker, (trio.Lock(), 0))
        self._locks[marker] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[marker]
            if users == 1:
                del self._locks[marker]
            else:
                self._locks[marker] = (lock, users - 1)

    async def _remember(self, user: str, job_id: str, spec: JobSpec) -> None:
        name = spec.name or posixpath.basename(spec.script_path or "") or "sbatch"
        job = Job(
            job_id=job_id,
            name=name,
            status=JobStatus(state="PENDING", state_reason="Submitted"),
            time=JobTime(),
            allocation_nodes=0,
            cluster=self.cluster.name,
            nodes="",
            partition=spec.partition or "",
            user=user,
            working_directory=spec.working_directory,
            account=spec.account,
        )
        self._recent[job_id] = _Recent(job, user, self._clock())
        self._submitted[job_id] = self._clock()
        if self._shared is not None:
            await self._shared.remember(self.cluster.name, user, job_id, {"job": _convert.unstructure(job)})

    def _expire(self) -> None:
        now = self._clock()
        for job_id in [k for k, r in self._recent.items() if now - r.at > RECENT_TTL]:
            del self._recent[job_id]
        for job_id in [k for k, at in self._submitted.items() if now - at > RECENT_TTL]:
            del self._submitted[job_id]
        for marker in [k for k, (_, at) in self._markers.items() if now - at > MARKER_TTL]:
            del self._markers[marker]

    # ------------------------------------------------------------------ read

    async def get_jobs(self, run: Runner, query: JobQuery) -> list[Job]:
        """Jobs matching `query`, with the user's just-submitted ones the scheduler does not list yet."""
        return await self._with_recent(await self.backend.get_jobs(run, query), query)

    async def watch_jobs(self, run: Runner, user: str, job_ids: Sequence[str]) -> list[Job]:
        """The jobs among `job_ids` that `user` may see, in the backend's fewest commands
        (the job watchers' poll), with just-submitted ones the scheduler does not list yet."""
        query = JobQuery(user=user, allusers=True, job_ids=tuple(job_ids))
        return await self._with_recent(await self.backend.watch_jobs(run, user, job_ids), query)

    def submitted_within(self, job_id: str, seconds: float) -> bool:
        """Whether `job_id` was submitted through this process less than `seconds` ago."""
        at = self._submitted.get(job_id)
        return at is not None and self._clock() - at < seconds

    async def _with_recent(self, jobs: list[Job], query: JobQuery) -> list[Job]:
        self._expire()
        seen = {j.job_id for j in jobs}
        recents = dict(self._recent)
        if self._shared is not None:
            for job_id, record in (await self._shared.recent(self.cluster.name, query.user)).items():
                recents.setdefault(job_id, _Recent(_convert.structure(record["job"], Job), query.user, self._clock()))
        for job_id, recent in recents.items():
            if job_id in seen:
                continue
            job = recent.job
            if recent.user != query.user or (query.job_ids and job_id not in query.job_ids):
                continue
            if (query.name is not None and job.name != query.name) or (
                query.account is not None and job.account != query.account
            ):
                continue
            jobs.append(job)
        listed = [job_id for job_id in recents if job_id in seen]
        for job_id in listed:
            # the scheduler lists it now: its own record is the truth from here on
            self._recent.pop(job_id, None)
        if self._shared is not None and listed:
            await self._shared.forget(self.cluster.name, query.user, listed)
        return jobs

    async def get_job(self, run: Runner, user: str, job_id: str) -> list[Job]:
        """The job (a list: ids may repeat across clusters). Raises NotFound("Job not found.")."""
        job_id = self.backend.check_job_id(job_id)
        jobs = await self.get_jobs(run, JobQuery(user=user, allusers=True, job_ids=(job_id,)))
        if not jobs:
            raise NotFound("Job not found.")
        return jobs

    async def lookup_job(self, user: str, job_id: str, leased: Leasing) -> list[Job]:
        """`get_job`, batched with `user`'s concurrent lookups of other jobs (one lease, one squeue
        and sacct for the batch). Raises NotFound("Job not found.")."""
        job_id = self.backend.check_job_id(job_id)

        async def fetch(ids: tuple[str, ...]) -> dict[str, list[Job]]:
            query = JobQuery(user=user, allusers=True, job_ids=ids)
            jobs = await leased(lambda run: self.get_jobs(run, query))
            return {asked: [j for j in jobs if len(ids) == 1 or answers(asked, j.job_id)] for asked in ids}

        jobs = await self._job_batches.lookup(user, job_id, fetch)
        if not jobs:
            raise NotFound("Job not found.")
        return jobs

    async def lookup_metadata(self, user: str, job_id: str, leased: Leasing) -> list[JobMetadata]:
        """`get_job_metadata`, batched like `lookup_job`. Raises NotFound("Job not found.")."""
        job_id = self.backend.check_job_id(job_id)

        async def fetch(ids: tuple[str, ...]) -> dict[str, list[JobMetadata]]:
            return await leased(lambda run: self.backend.get_jobs_metadata(run, ids))

        found = await self._metadata_batches.lookup(user, job_id, fetch)
        if not found and job_id not in self._recent and self._shared is not None:
            # submitted through another replica, not listed by the scheduler yet
            if job_id in await self._shared.recent(self.cluster.name, user):
                return [JobMetadata(job_id=job_id)]
        return self._known(job_id, found)

    async def get_job_metadata(self, run: Runner, job_id: str) -> list[JobMetadata]:
        """Script and standard streams. Raises NotFound("Job not found.")."""
        job_id = self.backend.check_job_id(job_id)
        return self._known(job_id, await self.backend.get_job_metadata(run, job_id))

    def _known(self, job_id: str, found: list[JobMetadata]) -> list[JobMetadata]:
        if not found:
            if job_id in self._recent:
                return [JobMetadata(job_id=job_id)]
            raise NotFound("Job not found.")
        return found

    # ------------------------------------------------------------------ act

    async def cancel(self, run: Runner, job_id: str) -> None:
        """Cancel. Raises NotFound("Job not found."), Forbidden."""
        await self.backend.cancel(run, self.backend.check_job_id(job_id))

    async def attach(self, run: Runner, job_id: str, command: str) -> None:
        """Run `command` in the job's allocation. Raises NotFound, NotImplementedOnSystem."""
        await self.backend.attach(run, self.backend.check_job_id(job_id), command)


def answers(asked: str, job_id: str) -> bool:
    """Whether a job listed as `job_id` answers a lookup of `asked` (in a batch of several ids).

    Slurm lists an array's tasks when asked for the array (`123` -> `123_4`) and a pending
    array's tasks grouped (`123_4` -> `123_[4-9]`); PBS adds the server (`123` -> `123.pbs`).
    """
    if job_id == asked:
        return True
    head, asked_head = _head(job_id), _head(asked)
    if head != asked_head:
        return False
    return "_" not in asked or "[" in job_id


def _head(job_id: str) -> str:
    for mark in ("_", ".", "[", "+"):
        job_id = job_id.partition(mark)[0]
    return job_id
