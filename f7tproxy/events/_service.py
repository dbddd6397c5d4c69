"""JobWatchers: the service behind the event streams, one watcher per (system, user).

    JobWatchers.run             its own nursery, started with the server
    └── Watcher.run             one per (system, user) with listeners; ends with the last one

A request handler opens a listener (`follow_job`, `follow_output`): that counts
against the user's cap, joins (or starts) the user's watcher, and for a job stream
waits (bounded) for the job's first answer, so an unknown job is a 404 before the
stream starts. The listener's `items()` then yields what the stream sends; its
`close()` (idempotent, not async) leaves, and the last listener of a watcher
cancels it, killing any remote command it has running.
"""

from __future__ import annotations

import collections
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping

import attrs
import trio

from ..config import EventsConfig
from ..errors import ApiError, NotFound, RateLimited, ServiceUnavailable
from ..scheduler import Job, JobMetadata, JobService, TtlCache
from ..ssh import PoolSupervisor
from ._watched import Digest, EventNumbers, FollowedFile, JobRecord, OutputReader, job_from_text
from ._watcher import Watcher, WatcherStatistics

log = logging.getLogger(__name__)

_HISTORY = 10_000
"""Jobs whose last event number is remembered after their watcher left (for Last-Event-ID)."""
_PATHS_TTL = 3600.0
_BUFFERED_CHUNKS = 4
"""A followed file's buffer holds at most this many read chunks (slow listeners hold reading up)."""

Key = tuple[str, str]


# --------------------------------------------------------------------------- what a stream sends


@attrs.frozen
class JobChanged:
    seq: int
    job: Job


@attrs.frozen
class OutputLine:
    text: str
    offset: int
    """File offset just after this line (the event's id; resume from it)."""


@attrs.frozen
class OutputEnd:
    offset: int


@attrs.frozen
class KeepAlive:
    pass


@attrs.frozen
class Shutdown:
    pass


@attrs.frozen
class Failed:
    error: ApiError


Item = JobChanged | OutputLine | OutputEnd | KeepAlive | Shutdown | Failed


@attrs.frozen
class EventsStatistics:
    """Every watcher at one instant."""

    watchers: tuple[WatcherStatistics, ...]


# --------------------------------------------------------------------------- the service


class JobWatchers:
    """All event streams of the process, served by one watcher per (system, user)."""

    def __init__(
        self,
        config: EventsConfig,
        pool: PoolSupervisor,
        jobs: Mapping[str, JobService],
        *,
        command_ran: Callable[[str, str], None] = lambda system, program: None,
        numbers: EventNumbers | None = None,
    ) -> None:
        """`command_ran(system, program)` is told of every remote command a watcher runs (metrics);
        `numbers` (replicas) numbers the jobs' changes alike on every replica."""
        self.config = config
        self._pool = pool
        self._jobs = jobs
        self._command_ran = command_ran
        self._numbers = numbers
        self._watchers: dict[Key, Watcher] = {}
        self._streams: collections.Counter[str] = collections.Counter()
        self._history: collections.OrderedDict[tuple[str, str, str], tuple[int, Digest | None]] = (
            collections.OrderedDict()
        )
        self.paths: TtlCache[tuple[str, str, str], JobMetadata] = TtlCache(ttl=_PATHS_TTL, max_entries=_HISTORY)
        """Jobs' output paths by (system, user, job), looked up once for all their output streams."""
        self._to_start: trio.MemorySendChannel[Watcher] | None = None
        self.closing = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve watchers until cancelled."""
        # Watchers are started by this task, not by the request that asked for one: they
        # run in the service's context (no request id in their audit lines), in its nursery.
        send, receive = trio.open_memory_channel[Watcher](math.inf)
        try:
            async with trio.open_nursery() as nursery:
                self._to_start = send
                task_status.started()
                async for watcher in receive:
                    nursery.start_soon(watcher.run, name=f"job watcher {watcher.user}@{watcher.system}")
        finally:
            self._to_start = None
            self.stop()

    def stop(self) -> None:
        """Shutting down: every stream sends its last event and ends; new ones get 503."""
        self.closing = True
        for watcher in self._watchers.values():
            for record in watcher.records.values():
                record.notify()
            for followed in watcher.files.values():
                followed.notify()

    # ------------------------------------------------------------------ listeners

    async def follow_job(self, system: str, user: str, token: str | None, job_id: str, last_id: int | None
                         ) -> JobListener:  # fmt: skip
        """A listener of one job's changes, once the job's first answer is in.

        Raises RateLimited (the user's cap), ServiceUnavailable (shutting down, or no
        answer within `first_event_timeout`), NotFound (unknown job) or the error of the
        watcher's first poll (SSH, scheduler).
        """
        watcher = self._open(system, user, token)
        watcher.job_streams += 1
        record = self._hold(watcher, job_id)
        listener = JobListener(self, watcher, record, last_id)
        try:
            with trio.move_on_after(self.config.first_event_timeout):
                while not record.answered and not self.closing:
                    await record.changed.wait()
            if self.closing:
                raise ServiceUnavailable("The server is shutting down", retry_after=5)
            if record.job is None:
                raise record.error or ServiceUnavailable("No answer from the scheduler in time", retry_after=5)
            if last_id is not None and last_id != record.seq and self._numbers is not None:
                # Numbered by another replica: how far the numbers go, and what the client missed.
                kept = await self._numbers.numbered(system, user, job_id)
                record.known = max([record.known, *(seq for seq, _ in kept)])
                for seq, text in kept:
                    job = job_from_text(text) if last_id < seq < record.seq else None
                    if job is not None:
                        listener.missed.append(JobChanged(seq, job))
        except BaseException:
            listener.close()
            raise
        return listener

    def follow_output(self, system: str, user: str, token: str | None, job_id: str, path: str, offset: int
                      ) -> OutputListener:  # fmt: skip
        """A listener of the lines appended to `path` (job `job_id`'s output) from byte `offset`.

        Raises RateLimited (the user's cap) or ServiceUnavailable (shutting down).
        """
        watcher = self._open(system, user, token)
        watcher.output_streams += 1
        followed = watcher.files.get((job_id, path))
        if followed is None:
            record = self._hold(watcher, job_id)
            followed = watcher.files[job_id, path] = FollowedFile(
                path, record, max_buffer=_BUFFERED_CHUNKS * self.config.read_chunk
            )
        reader = followed.add_reader(offset)
        watcher.wake()
        return OutputListener(self, watcher, followed, reader)

    def _open(self, system: str, user: str, token: str | None) -> Watcher:
        if self.closing or self._to_start is None:
            raise ServiceUnavailable("The server is shutting down", retry_after=5)
        if self._streams[user] >= self.config.max_streams_per_user:
            raise RateLimited(
                f"Too many open event streams ({self.config.max_streams_per_user} per user)",
                retry_after=self.config.interval,
            )
        watcher = self._watchers.get((system, user))
        if watcher is None:
            watcher = self._watchers[system, user] = Watcher(
                system, user, config=self.config, pool=self._pool, jobs=self._jobs[system],
                command_ran=self._command_ran, numbers=self._numbers,
            )  # fmt: skip
            self._to_start.send_nowait(watcher)
        self._streams[user] += 1
        if token is not None:
            watcher.token = token
        return watcher

    def _hold(self, watcher: Watcher, job_id: str) -> JobRecord:
        record = watcher.records.get(job_id)
        if record is None:
            seq, last = self._history.get((watcher.system, watcher.user, job_id), (0, None))
            record = watcher.records[job_id] = JobRecord(job_id, seq=seq, last=last)
        record.listeners += 1
        if record.job is None:
            record.error = None  # ask again for this listener
            watcher.wake()
        return record

    def _let_go(self, watcher: Watcher, record: JobRecord) -> None:
        record.listeners -= 1
        if record.listeners == 0:
            del watcher.records[record.job_id]
            key = (watcher.system, watcher.user, record.job_id)
            self._history[key] = (record.seq, record.last)
            self._history.move_to_end(key)
            while len(self._history) > _HISTORY:
                self._history.popitem(last=False)

    def _close(self, watcher: Watcher) -> None:
        self._streams[watcher.user] -= 1
        if self._streams[watcher.user] <= 0:
            del self._streams[watcher.user]
        if watcher.streams == 0:
            watcher.scope.cancel()
            if self._watchers.get((watcher.system, watcher.user)) is watcher:
                del self._watchers[watcher.system, watcher.user]

    def statistics(self) -> EventsStatistics:
        """Frozen statistics of every watcher."""
        return EventsStatistics(tuple(w.statistics() for w in self._watchers.values()))


# --------------------------------------------------------------------------- listeners


class _Listener:
    def __init__(self, owner: JobWatchers, watcher: Watcher) -> None:
        self._owner = owner
        self._watcher = watcher
        self._closed = False

    def close(self) -> None:
        """Leave (idempotent, never blocks): the last listener of a watcher stops it."""
        if not self._closed:
            self._closed = True
            self._leave()
            self._owner._close(self._watcher)

    def _leave(self) -> None:
        raise NotImplementedError

    async def _wait(self, changed: trio.Event) -> bool:
        """Wait for `changed`; False if the keep-alive time passed first."""
        with trio.move_on_after(self._owner.config.keepalive):
            await changed.wait()
            return True
        return False


class JobListener(_Listener):
    """One stream of one job's changes."""

    def __init__(self, owner: JobWatchers, watcher: Watcher, record: JobRecord, last_id: int | None) -> None:
        super().__init__(owner, watcher)
        self._record = record
        self._last_id = last_id
        self.missed: list[JobChanged] = []
        """Changes numbered after `last_id` and before the job's state now (kept by the replicas),
        sent first."""

    def _leave(self) -> None:
        self._watcher.job_streams -= 1
        self._owner._let_go(self._watcher, self._record)

    async def items(self) -> AsyncIterator[Item]:
        """The job now (unless the client had it: `Last-Event-ID`; with the changes since that
        the replicas kept, if this watcher did not see them), each change, then the end after a
        finished state; keep-alives in between; `Shutdown` last if the server stops."""
        record = self._record
        # A Last-Event-ID up to the last number known here (this process's, or the replicas'
        # shared one) was sent: go on after it, even if this watcher has not seen that state
        # yet. One ahead of it is from before a restart (or Redis lost it): send the job
        # again rather than miss a change.
        known = max(record.seq, record.known)
        sent = self._last_id if self._last_id is not None and self._last_id <= known else 0
        for missed in self.missed:
            if missed.seq > sent and not self._owner.closing:
                sent = missed.seq
                yield missed
        while True:
            if self._owner.closing:
                yield Shutdown()
                return
            if record.seq > sent and record.job is not None:
                sent = record.seq
                yield JobChanged(record.seq, record.job)
                continue
            if record.finished:
                return
            if not await self._wait(record.changed):
                yield KeepAlive()


class OutputListener(_Listener):
    """One stream of the lines appended to one job's output file."""

    def __init__(self, owner: JobWatchers, watcher: Watcher, followed: FollowedFile, reader: OutputReader) -> None:
        super().__init__(owner, watcher)
        self._followed = followed
        self._reader = reader

    def _leave(self) -> None:
        watcher, followed = self._watcher, self._followed
        watcher.output_streams -= 1
        followed.remove_reader(self._reader)
        if not followed.readers:
            del watcher.files[followed.job.job_id, followed.path]
            self._owner._let_go(watcher, followed.job)

    async def items(self) -> AsyncIterator[Item]:
        """Each new line, then `OutputEnd` once the job has ended and the file is read to its end."""
        followed, limit = self._followed, self._owner.config.max_line_length
        while True:
            if self._owner.closing:
                yield Shutdown()
                return
            lines = followed.lines(self._reader, limit)
            for text, offset in lines:
                yield OutputLine(text, offset)
            if lines:
                continue
            error = followed.error or (followed.job.error if isinstance(followed.job.error, NotFound) else None)
            if error is not None:  # unreadable, or the scheduler does not know the job (it would never end)
                yield Failed(error)
                return
            if followed.done_for(self._reader):
                yield OutputEnd(self._reader.pos)
                return
            if not await self._wait(followed.changed):
                yield KeepAlive()
