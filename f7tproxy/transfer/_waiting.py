"""Staged uploads waiting for their client: a per-user cap, and what the operator sees.

Each `transfer/upload` submits a staging job that holds a CPU on the cluster
until the client has completed its multipart upload (or the job's wait runs
out). `WaitingUploads` is one system's record of those uploads, in process:

- `reserve` takes one of the user's `max_waiting_uploads` slots before
  anything is created (past the cap: TooManyUploads, 429 with Retry-After),
  and `Reservation.submitted` records the upload once its job is submitted;
- an upload is forgotten when its multipart upload is gone from the store
  (completed by the client, or aborted by the job when its wait ran out or it
  failed: `Staging.run` checks), or at the latest when its wait bound passes;
- `entries()` is a frozen list for the admin snapshot and the metrics.

A restarted f7tproxy starts with an empty record: the jobs it submitted
before still end on their own (first-part wait, then `upload_wait`), but do
not count against the cap until then. Each replica keeps its own record.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import trio

from .._iso import iso_z
from ..errors import TooManyUploads


@attrs.frozen
class WaitingUpload:
    """One staged upload whose staging job waits for the client's file."""

    user: str
    job_id: str
    path: str
    """The file the job will write."""
    since: datetime.datetime
    """When the job was submitted (UTC)."""
    bucket: str
    key: str
    upload_id: str
    """The multipart upload the client sends its parts to."""
    until: float
    """trio time after which the upload is forgotten whatever happens (its wait bound)."""
    first_part_by: float = float("inf")
    """trio time by which the client's first part must have arrived, or f7tproxy gives the upload
    up itself: the job would (a first-part wait after it starts), and a job cancelled before it
    ever ran never aborts its upload."""

    def to_json(self) -> dict[str, str]:
        """The admin snapshot's shape: user, jobId, path, since (ISO 8601)."""
        return {"user": self.user, "jobId": self.job_id, "path": self.path,
                "since": iso_z(self.since)}  # fmt: skip


@attrs.define
class Reservation:
    """A slot taken by `WaitingUploads.reserve`; `submitted` turns it into a waiting upload."""

    _owner: WaitingUploads
    user: str
    done: bool = False

    def submitted(
        self, job_id: str, path: str, *, bucket: str, key: str, upload_id: str, wait: float,
        first_part_wait: float = float("inf"),
    ) -> None:  # fmt: skip
        """Record the upload whose job `job_id` now waits (at most `wait` seconds) for the client,
        whose first part must arrive within `first_part_wait` seconds."""
        now = trio.current_time()
        self._owner._add(WaitingUpload(
            user=self.user, job_id=job_id, path=path, since=datetime.datetime.now(datetime.UTC),
            bucket=bucket, key=key, upload_id=upload_id, until=now + wait, first_part_by=now + first_part_wait,
        ))  # fmt: skip
        self.done = True


class WaitingUploads:
    """One system's staged uploads waiting for their clients, with a per-user cap."""

    def __init__(self, limit: int, *, retry_after: float) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self._waiting: dict[str, WaitingUpload] = {}
        self._reserved: dict[str, int] = {}

    @contextmanager
    def reserve(self, user: str) -> Iterator[Reservation]:
        """Hold one of `user`'s slots while the upload is set up; released unless `submitted` is called.

        Raises TooManyUploads if `user` already has `limit` uploads waiting or being set up.
        """
        self._prune()
        held = sum(1 for w in self._waiting.values() if w.user == user) + self._reserved.get(user, 0)
        if held >= self.limit:
            raise TooManyUploads(
                f"Too many staged uploads waiting: {held} of at most {self.limit}. Complete or cancel "
                f"one (its transfer job) first; retry after {math.ceil(self.retry_after)} s",
                retry_after=self.retry_after,
            )
        self._reserved[user] = self._reserved.get(user, 0) + 1
        try:
            yield Reservation(self, user)
        finally:
            self._reserved[user] -= 1
            if not self._reserved[user]:
                del self._reserved[user]

    def _add(self, upload: WaitingUpload) -> None:
        self._waiting[upload.job_id] = upload

    def forget(self, job_id: str) -> None:
        """Stop counting the upload of job `job_id` (its multipart upload is gone)."""
        self._waiting.pop(job_id, None)

    def _prune(self) -> None:
        now = trio.current_time()
        for job_id in [j for j, w in self._waiting.items() if w.until <= now]:
            del self._waiting[job_id]

    def entries(self) -> tuple[WaitingUpload, ...]:
        """The uploads waiting now, oldest first (a frozen copy)."""
        self._prune()
        return tuple(sorted(self._waiting.values(), key=lambda w: w.since))
