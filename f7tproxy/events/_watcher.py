"""One watcher per (system, user): one scheduler query and one read per file per interval.

    Watcher.run                 a task in `JobWatchers`' nursery, while it has listeners
    └── poll                    one lease: `watch_jobs` for every job still changing,
                                then one read of each followed output file

Errors (SSH gone, scheduler down, pool busy) never end a watcher: they are counted,
jobs not answered yet fail their waiting listeners, and the next poll comes after a
back-off. A lost connection is replaced by the pool on the next lease.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import trio

from ..config import EventsConfig
from ..errors import ApiError, Forbidden, InternalError, NotFound
from ..scheduler import Job, JobService
from ..ssh import CommandResult, PoolSupervisor, Runner, program_name
from ._watched import EventNumbers, FollowedFile, JobRecord, digest, encoded, job_text

log = logging.getLogger(__name__)

_BACKOFF_MAX = 30.0


@attrs.frozen
class WatcherStatistics:
    """One watcher at one instant (admin snapshot, metrics)."""

    system: str
    user: str
    job_streams: int
    output_streams: int
    jobs: int
    """Jobs polled (some only for their output streams)."""
    files: int
    """Output files followed."""
    polls: int
    commands: int
    """Remote commands this watcher ran."""
    errors: int
    last_error: str | None
    age: float
    """Seconds since the watcher started."""


class _Counted(Runner):
    """A lease that counts the commands run on it."""

    def __init__(self, lease: Runner, counted: Callable[[str], None]) -> None:
        self._lease = lease
        self._counted = counted

    async def run(self, argv: Sequence[str], **options: Any) -> CommandResult:
        """`Runner.run`: its keyword arguments go to the lease as they are."""
        self._counted(program_name(argv))
        return await self._lease.run(argv, **options)


def read_command(path: str, offset: int, count: int) -> list[str]:
    """Up to `count` bytes of `path` from byte `offset` (one program: its exit status is the read's)."""
    return ["dd", f"if={path}", "iflag=skip_bytes,count_bytes", f"skip={offset}", f"count={count}",
            "bs=65536", "status=none"]  # fmt: skip


class Watcher:
    """The jobs and output files one user follows on one system, polled together."""

    def __init__(
        self,
        system: str,
        user: str,
        *,
        config: EventsConfig,
        pool: PoolSupervisor,
        jobs: JobService,
        command_ran: Callable[[str, str], None],
        numbers: EventNumbers | None = None,
    ) -> None:
        self.system = system
        self.user = user
        self.token: str | None = None
        """The newest listener's token (the ssh_service credentials need one to connect)."""
        self._config = config
        self._pool = pool
        self._jobs = jobs
        self._command_ran = command_ran
        self._numbers = numbers
        self.records: dict[str, JobRecord] = {}
        self.files: dict[tuple[str, str], FollowedFile] = {}
        self.job_streams = 0
        self.output_streams = 0
        self.scope = trio.CancelScope()
        self._wake = trio.Event()
        self._started = trio.current_time()
        self._polls = 0
        self._commands = 0
        self._errors = 0
        self._failures = 0
        self._last_error: str | None = None

    @property
    def streams(self) -> int:
        return self.job_streams + self.output_streams

    def wake(self) -> None:
        """Poll now (a job without an answer yet is waited for)."""
        self._wake.set()

    async def run(self) -> None:
        """Poll until cancelled (when the last listener leaves, or at shutdown)."""
        with self.scope:
            while True:
                await self._poll()
                await self._pause()

    async def _pause(self) -> None:
        if any(f.again for f in self.files.values()) and not self._failures:
            await trio.lowlevel.checkpoint()
            return
        pending = [r for r in self.records.values() if not r.finished]
        fast = any(self._jobs.submitted_within(r.job_id, self._config.fast_window) for r in pending)
        pause = self._config.fast_interval if fast else self._config.interval
        if self._failures:
            pause = min(_BACKOFF_MAX, self._config.interval * 2 ** (self._failures - 1))
        with trio.move_on_after(pause):
            await self._wake.wait()
        self._wake = trio.Event()

    async def _poll(self) -> None:
        ids = [r.job_id for r in self.records.values() if r.listeners and not r.finished]
        files = [f for f in self.files.values() if f.wants_read()]
        if not ids and not files:
            return
        self._polls += 1
        try:
            async with self._pool.lease(self.system, self.user, self.token) as lease:
                run: Runner = _Counted(lease, self._count)
                if ids:
                    await self._answer(ids, await self._jobs.watch_jobs(run, self.user, ids))
                for followed in files:
                    await self._read(run, followed)
        except Exception as exc:
            if not isinstance(exc, ApiError):
                # A bug must not end the watcher (nor, through its nursery, the server).
                log.exception("job watcher %s@%s failed", self.user, self.system)
                exc = InternalError("The job watcher failed")
            self._errors += 1
            self._failures += 1
            self._last_error = exc.message
            log.info("job watcher %s@%s: %s", self.user, self.system, exc.message)
            for record in self.records.values():
                record.fail(exc)
        else:
            self._failures = 0

    def _count(self, program: str) -> None:
        self._commands += 1
        self._command_ran(self.system, program)

    async def _answer(self, ids: list[str], jobs: list[Job]) -> None:
        found = {j.job_id: j for j in jobs}
        changed: list[tuple[JobRecord, Job]] = []
        for job_id in ids:
            record = self.records.get(job_id)
            if record is None:
                continue
            job = found.get(job_id)
            if job is not None:
                if self._numbers is not None and record.changes(job):
                    changed.append((record, job))
                else:
                    record.update(job)
            elif record.job is None:
                record.fail(NotFound("Job not found."))
            # else: a known job missing from one answer (slurmdbd lagging): keep its last state
        if not changed or self._numbers is None:
            return
        # One call numbers the poll's changes as the other replicas numbered them (None: locally).
        states = [(r.job_id, encoded(digest(job)), r.seq + 1, job_text(job)) for r, job in changed]
        numbers = await self._numbers.number(self.system, self.user, states)
        for i, (record, job) in enumerate(changed):
            record.update(job, numbers[i] if numbers is not None else None)

    async def _read(self, run: Runner, followed: FollowedFile) -> None:
        finished = followed.job.finished  # before the read: what it returns is all there is
        count = self._config.read_chunk
        result = await run.run(read_command(followed.path, followed.end, count), output_limit=count + 1024)
        if result.ok:
            followed.add(result.stdout_bytes, requested=count, job_was_finished=finished)
            return
        error = result.stderr.strip()
        if "No such file or directory" in error and not finished:
            followed.add(b"", requested=count, job_was_finished=False)  # not written yet
        elif "Permission denied" in error:
            followed.fail(Forbidden(f"Cannot read {followed.path}: permission denied"))
        elif "No such file or directory" in error:
            followed.fail(NotFound(f"The job's output file {followed.path} does not exist"))
        else:
            followed.fail(InternalError(f"Cannot read {followed.path}: {error[:300]}"))

    def statistics(self) -> WatcherStatistics:
        return WatcherStatistics(
            system=self.system, user=self.user, job_streams=self.job_streams, output_streams=self.output_streams,
            jobs=len(self.records), files=len(self.files), polls=self._polls, commands=self._commands,
            errors=self._errors, last_error=self._last_error, age=trio.current_time() - self._started,
        )  # fmt: skip

