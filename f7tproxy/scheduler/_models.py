"""What the schedulers report and accept, as frozen values in FirecREST's vocabulary.

Field names are snake_case here; the wire form (`f7tproxy.api`) is their
camelCase, which is exactly FirecREST v2's JSON. A docstring under a field
becomes its description in /openapi.json.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

# --------------------------------------------------------------------------- jobs


@attrs.frozen
class JobStatus:
    """Where a job is in its life."""

    state: str
    """Scheduler state (Slurm: PENDING, RUNNING, COMPLETED, ...; PBS states are mapped to these words)."""
    state_reason: str | None = None
    """Why the job is in this state (Slurm's reason), if any."""
    exit_code: int | None = None
    """Exit status of the batch script, once it ended."""
    interrupt_signal: int | None = None
    """Signal that ended the job, if one did."""


FINISHED_STATES = frozenset({
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY",
    "PREEMPTED", "TIMEOUT", "REVOKED", "SPECIAL_EXIT",
})  # fmt: skip
"""Job states (Slurm's words, which PBS states are mapped to) after which a job does no more."""


@attrs.frozen
class JobTime:
    """Times of a job: epoch seconds (start, end) and durations in seconds."""

    elapsed: int | None = None
    start: int | None = None
    end: int | None = None
    suspended: int | None = None
    limit: int | None = None
    """Time limit in seconds (None: unlimited or unknown)."""


@attrs.frozen
class JobTask:
    """A job step (FirecREST always reports none for Slurm, and so do we)."""

    id: str
    name: str
    status: JobStatus
    time: JobTime


@attrs.frozen
class Job:
    """One job as FirecREST's `JobModel`."""

    job_id: str
    name: str
    status: JobStatus
    time: JobTime
    allocation_nodes: int
    cluster: str
    nodes: str
    partition: str
    user: str | None
    working_directory: str
    account: str | None = None
    group: str | None = None
    priority: int | None = None
    kill_request_user: str | None = None
    tasks: list[JobTask] | None = None


@attrs.frozen
class JobMetadata:
    """A job's script and standard streams (FirecREST's `JobMetadataModel`)."""

    job_id: str
    script: str | None = None
    standard_input: str | None = None
    standard_output: str | None = None
    standard_error: str | None = None


TimeWindow = Literal["1h", "8h", "24h", "3d", "7d"]
TIME_WINDOWS: dict[str, int] = {"1h": 3600, "8h": 8 * 3600, "24h": 86400, "3d": 3 * 86400, "7d": 7 * 86400}
"""How far back finished jobs are listed, in seconds (FirecREST's `JobsTimeWindow`)."""


@attrs.frozen
class JobQuery:
    """Which jobs to list."""

    user: str
    """The caller; only their jobs unless `allusers`."""
    allusers: bool = False
    account: str | None = None
    name: str | None = None
    time_window: TimeWindow = "24h"
    job_ids: tuple[str, ...] = ()
    """Only these jobs (then the time window does not apply)."""


@attrs.frozen
class JobFields:
    """What a job description says of the job, the fields the API's `JobDescription` and
    `JobSpec` share (the one list of them: `job_fields` copies them from one to the other).

    Give exactly one of `script` (the script's text) and `script_path` (a file on the system).
    """

    working_directory: str
    """Directory the job runs in (also accepted as `working_directory`)."""
    script: str | None = None
    """The job script's text; sent to the scheduler on standard input."""
    script_path: str | None = None
    """Absolute path of a job script on the system (also `script_path`)."""
    name: str | None = None
    """Job name."""
    account: str | None = None
    """Charge the job to this account."""
    partition: str | None = None
    """Partition (queue)."""
    reservation: str | None = None
    """Reservation."""
    constraints: str | None = None
    """Node constraints (Slurm `--constraint`)."""
    standard_input: str | None = None
    """File the job's standard input is read from."""
    standard_output: str | None = None
    """File for the job's standard output."""
    standard_error: str | None = None
    """File for the job's standard error."""


def job_fields(description: JobFields) -> dict[str, Any]:
    """The `JobFields` of `description`, by name (for building another `JobFields` class)."""
    return {f.name: getattr(description, f.name) for f in attrs.fields(JobFields)}


@attrs.frozen
class JobSpec(JobFields):
    """A validated job description to submit (FirecREST's `JobDescriptionModel`).

    Exactly one of `script` (sent on the submit command's stdin) and
    `script_path` (a file on the cluster) is set.
    """

    env: dict[str, str] = attrs.field(factory=dict)
    scheduler_options: tuple[str, ...] = ()
    """Extra scheduler options, already validated by the backend's option policy."""
    marker: str | None = None
    """Idempotency marker the backend stores with the job (Slurm: in its comment)."""


# --------------------------------------------------------------------------- status


NodeState = Literal[
    "IDLE", "ALLOCATED", "MIXED", "DOWN", "DRAIN", "OFFLINE", "RESERVED",
    "COMPLETING", "BUSY", "POWERING_DOWN", "POWERING_UP", "UNKNOWN",
]  # fmt: skip


@attrs.frozen
class Node:
    """A compute node (FirecREST's `NodeModel`)."""

    name: str
    cpus: int
    state: list[NodeState]
    sockets: int | None = None
    cores: int | None = None
    threads: int | None = None
    cpu_load: float | None = None
    free_memory: int | None = None
    features: list[str] | None = None
    address: str | None = None
    hostname: str | None = None
    partitions: list[str] | None = None
    weight: int | None = None
    alloc_memory: int | None = None
    alloc_cpus: int | None = None
    idle_cpus: int | None = None


@attrs.frozen
class Partition:
    """A partition or queue (FirecREST's `PartitionModel`; `partition` holds its state, e.g. UP)."""

    name: str
    partition: str
    cpus: int | None = None
    total_nodes: int | None = None
    hidden: bool = attrs.field(default=False, metadata={"internal": True})
    """Hidden from users unless asked for (Slurm's `Hidden=YES`); not on the wire."""


@attrs.frozen
class Reservation:
    """An advance reservation (FirecREST's `ReservationModel`)."""

    name: str
    node_list: str
    start_time: int
    end_time: int
    features: str | None = None
    state: str | None = None


@attrs.frozen
class Account:
    """A scheduler account the user may charge."""

    name: str
    default: bool


@attrs.frozen
class PosixIdentified:
    """A POSIX user or group."""

    id: str
    name: str


@attrs.frozen
class UserInfo:
    """Who the user is on the cluster (FirecREST's `UserInfoResponse`)."""

    user: PosixIdentified
    group: PosixIdentified
    groups: list[PosixIdentified]
    accounts: list[Account] | None = None
