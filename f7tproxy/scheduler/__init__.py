"""Batch schedulers behind one interface: Slurm and PBS through their command lines over SSH.

    _models.py     values in FirecREST's vocabulary (jobs, nodes, partitions, ...)
    _backend.py    SchedulerBackend: the interface (Runner, what it needs from a lease, is `f7tproxy.ssh`'s)
    _text.py       unforgeable separators, numbers, durations, `id`
    _cache.py      StatusCaches: each system's TtlCaches (f7tproxy.coalesce) of slow-changing answers
    _jobs.py       JobService: idempotent submit, read-your-writes and batched lookups on top of a backend
    slurm/, pbs/   _commands.py (builders), _parsers.py, _options.py, _backend.py
"""

from __future__ import annotations

from collections.abc import Callable

from ..config import ClusterConfig
from ..coalesce import BatchLookup
from ..ssh import Runner  # (re-exported: what a backend needs from a lease)
from ._backend import SchedulerBackend
from ._cache import Lookup, StatusCaches, TtlCache, status_caches
from ._jobs import MARKER_TTL, RECENT_TTL, SUBMIT_LOCK_TTL, JobService, Leasing, SubmitLog, Submitted
from ._models import (
    FINISHED_STATES,
    TIME_WINDOWS,
    Account,
    Job,
    JobMetadata,
    JobFields,
    JobQuery,
    JobSpec,
    JobStatus,
    JobTask,
    JobTime,
    Node,
    Partition,
    PosixIdentified,
    Reservation,
    UserInfo,
    job_fields,
)
from ._text import id_command, parse_id
from .pbs import PbsBackend
from .slurm import SlurmBackend


def make_backend(cluster: ClusterConfig) -> SchedulerBackend:
    """The backend for `cluster.scheduler.type`."""
    if cluster.scheduler.type == "pbs":
        return PbsBackend(cluster)
    return SlurmBackend(cluster)


def job_services(
    clusters: tuple[ClusterConfig, ...],
    count: Callable[[str, str, BatchLookup], None] | None = None,
    *,
    shared: SubmitLog | None = None,
) -> dict[str, JobService]:
    """One JobService per cluster, by name; `count(system, kind, how)` hears every batched
    lookup; `shared`: submit records shared by replicas."""

    def counter(system: str) -> Callable[[str, BatchLookup], None] | None:
        return None if count is None else (lambda kind, how: count(system, kind, how))

    return {c.name: JobService(c, make_backend(c), on_lookup=counter(c.name), shared=shared) for c in clusters}


__all__ = [
    "FINISHED_STATES",
    "MARKER_TTL",
    "RECENT_TTL",
    "SUBMIT_LOCK_TTL",
    "TIME_WINDOWS",
    "Account",
    "Job",
    "JobFields",
    "JobMetadata",
    "JobQuery",
    "JobService",
    "JobSpec",
    "JobStatus",
    "JobTask",
    "JobTime",
    "Leasing",
    "Lookup",
    "Node",
    "Partition",
    "PbsBackend",
    "PosixIdentified",
    "Reservation",
    "Runner",
    "SchedulerBackend",
    "SlurmBackend",
    "StatusCaches",
    "SubmitLog",
    "Submitted",
    "TtlCache",
    "UserInfo",
    "id_command",
    "job_fields",
    "job_services",
    "make_backend",
    "parse_id",
    "status_caches",
]
