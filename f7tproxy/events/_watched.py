"""What one watcher holds: the jobs it follows and the output files it reads, with their listeners.

Plain state changed by plain methods (trio switches tasks only at awaits); every change
of interest to listeners sets the item's `changed` event and replaces it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

import attrs
import cattrs
import trio

from ..errors import ApiError
from ..scheduler import FINISHED_STATES, Job
from ._lines import cut_lines

Digest = tuple[object, ...]

EXIT_CODE_POLLS = 3
"""Answers a finished job waits for its exit code (sacct lags slurmctld) before its stream ends."""


def digest(job: Job) -> Digest:
    """The fields of a job a client acts on: a change in any of them is an event."""
    s = job.status
    return (s.state, s.state_reason, s.exit_code, s.interrupt_signal, job.nodes, job.allocation_nodes, job.partition)


_convert = cattrs.Converter()


def encoded(state: Digest) -> str:
    """A digest as text (what replicas compare in the shared store)."""
    return json.dumps(state, separators=(",", ":"), default=str)


def job_text(job: Job) -> str:
    """A job as JSON text (kept in the shared store with its number)."""
    return json.dumps(_convert.unstructure(job), separators=(",", ":"))


def job_from_text(text: str) -> Job | None:
    """The job `job_text` wrote; None if it cannot be read (written by another version)."""
    try:
        return _convert.structure(json.loads(text), Job)
    except (ValueError, TypeError, KeyError, cattrs.BaseValidationError):
        return None


class EventNumbers(Protocol):
    """Job-event numbers shared by replicas (`f7tproxy.shared.SharedEventNumbers`): `number` the
    changes `(job_id, digest, least number, job JSON)` a poll saw, the `numbered` states kept.
    Never raises for an unreachable store: `number` then answers None (the watchers number
    locally), `numbered` []."""

    async def number(self, system: str, user: str, states: Sequence[tuple[str, str, int, str]]
                     ) -> list[tuple[int, int]] | None: ...  # fmt: skip
    async def numbered(self, system: str, user: str, job_id: str) -> list[tuple[int, str]]: ...


@attrs.define(eq=False)
class JobRecord:
    """One watched job: its last state, numbered by change."""

    job_id: str
    seq: int = 0
    """Number of the last change (the events' `id`); carried over from earlier watchers, or
    given by the replicas' shared numbers."""
    known: int = 0
    """The highest number the replicas' shared numbers had for this job when last asked."""
    last: Digest | None = None
    job: Job | None = None
    error: ApiError | None = None
    """Why the first answer for this job failed (no job yet): new listeners get it."""
    listeners: int = 0
    """Event streams and output followers that need this job's state."""
    changed: trio.Event = attrs.Factory(trio.Event)
    ended_polls: int = 0
    """Answers with a finished state but no exit code yet (accounting lags the controller)."""

    @property
    def answered(self) -> bool:
        return self.job is not None or self.error is not None

    @property
    def finished(self) -> bool:
        """The job has ended, and its exit code is known (or did not come in `EXIT_CODE_POLLS` answers)."""
        if self.job is None or self.job.status.state not in FINISHED_STATES:
            return False
        return self.job.status.exit_code is not None or self.ended_polls >= EXIT_CODE_POLLS

    def changes(self, job: Job) -> bool:
        """Whether `job` differs from the last state in a way clients act on."""
        return digest(job) != self.last

    def update(self, job: Job, numbered: tuple[int, int] | None = None) -> bool:
        """Take the scheduler's latest answer; True if it is a change clients act on.

        A change gets the number `numbered` gives (seq, top over all replicas), else the next one.
        """
        first, was_finished = self.job is None, self.finished
        self.job, self.error = job, None
        if job.status.state in FINISHED_STATES and job.status.exit_code is None:
            self.ended_polls += 1
        new = digest(job)
        if new == self.last:
            if first or self.finished != was_finished:
                self.notify()  # a first answer, numbered before or not; or the end
            return False
        self.last, self.seq = new, self.seq + 1
        if numbered is not None:
            self.seq = max(self.seq, numbered[0])  # never back: listeners send only higher numbers
            self.known = max(self.known, numbered[1])
        self.notify()
        return True

    def fail(self, error: ApiError) -> None:
        """No answer for a job not seen yet: its waiting listeners are told."""
        if self.job is None:
            self.error = error
            self.notify()

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


@attrs.define(eq=False)
class OutputReader:
    """One listener's place in a followed file."""

    pos: int
    """File offset of the next byte this listener wants."""


@attrs.define(eq=False)
class FollowedFile:
    """An output file read once per interval for all its listeners.

    The buffer holds the file from `base` (the slowest listener's place) to `end`
    (what has been read); it stops growing at `max_buffer` until slow listeners catch up.
    """

    path: str
    job: JobRecord
    max_buffer: int
    base: int = 0
    data: bytearray = attrs.Factory(bytearray)
    readers: list[OutputReader] = attrs.Factory(list)
    complete: bool = False
    """The job has ended and the file was read to its end after that."""
    error: ApiError | None = None
    """The file cannot be read (permissions, not a file): listeners are told and leave."""
    again: bool = False
    """The last read filled its chunk: read again without waiting for the interval."""
    changed: trio.Event = attrs.Factory(trio.Event)

    @property
    def end(self) -> int:
        return self.base + len(self.data)

    def wants_read(self) -> bool:
        return not self.complete and self.error is None and bool(self.readers) and len(self.data) < self.max_buffer

    def add_reader(self, pos: int) -> OutputReader:
        reader = OutputReader(pos)
        if not self.readers or pos < self.base or pos > self.end:
            # Nothing buffered covers it: read from the earliest place anyone needs.
            start = min([pos, *(r.pos for r in self.readers)])
            self.base, self.data = start, bytearray()
            self.complete = False
        self.readers.append(reader)
        return reader

    def remove_reader(self, reader: OutputReader) -> None:
        self.readers.remove(reader)
        self.trim()

    def add(self, chunk: bytes, *, requested: int, job_was_finished: bool) -> None:
        """The bytes one read returned (from `end`), `requested` at most."""
        self.data += chunk
        self.again = len(chunk) >= requested
        if job_was_finished and not self.again:
            self.complete = True
        if chunk or self.complete:
            self.notify()

    def fail(self, error: ApiError) -> None:
        self.error = error
        self.notify()

    def lines(self, reader: OutputReader, limit: int) -> list[tuple[str, int]]:
        """The lines `reader` has not had yet (it takes them: its place moves past them)."""
        if reader.pos < self.base or reader.pos >= self.end:
            return []
        got = cut_lines(bytes(self.data[reader.pos - self.base :]), reader.pos, limit, final=self.complete)
        if got:
            reader.pos = got[-1][1]
            self.trim()
        return got

    def done_for(self, reader: OutputReader) -> bool:
        return self.complete and reader.pos >= self.end

    def trim(self) -> None:
        if self.readers:
            keep = min(min(r.pos for r in self.readers), self.end)
            if keep > self.base:
                del self.data[: keep - self.base]
                self.base = keep

    def notify(self) -> None:
        self.changed.set()
        self.changed = trio.Event()
