"""Batch schedulers behind one interface: Slurm and PBS through their command lines over SSH.

    _models.py     values in FirecREST's vocabulary (jobs, nodes, partitions, ...)
    _backend.py    SchedulerBackend: the interface (Runner, what it needs from a lease, is `f7tproxy.ssh`'s)
    _text.py       unforgeable separators, numbers, durations, `id`
    _cache.py      TtlCache: brief, bounded, single-flight reuse of slow-changing answers
    _jobs.py       JobService: idempotent submit and read-your-writes on top of a backend
    slurm/, pbs/   _commands.py (builders), _parsers.py, _options.py, _backend.py
"""

from __future__ import annotations

from ..config import ClusterConfig
from ..ssh import Runner  # (re-exported: what a backend needs from a lease)
from ._backend import SchedulerBackend
from ._cache import Lookup, StatusCaches, TtlCache, status_caches
from ._jobs import MARKER_TTL, RECENT_TTL, SUBMIT_LOCK_TTL, JobService, SubmitLog, Submitted
from ._models import (
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


def job_services(clusters: tuple[ClusterConfig, ...], *, shared: SubmitLog | None = None) -> dict[str, JobService]:
    """One JobService per cluster, by name; `shared`: submit records shared by replicas."""
    return {c.name: JobService(c, make_backend(c), shared=shared) for c in clusters}


__all__ = [
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
    "SubmitLog",
    "JobSpec",
    "JobStatus",
    "JobTask",
    "JobTime",
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
