"""Compute routes (FirecREST's /compute group): submit, list, inspect, cancel and attach to jobs."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import attrs
from quart import Blueprint, Response, request

from ..errors import ValidationFailed
from ..scheduler import Job, JobFields, JobMetadata, JobQuery, JobSpec, job_fields
from ._context import (
    SystemContext,
    current_system,
    current_user,
    invalid,
    json_body,
    lease,
    leased,
    query_bool,
    query_str,
)
from ._openapi import Param, operation
from ._share import shared_read
from ._wire import from_wire, to_wire

compute = Blueprint("compute", __name__, url_prefix="/compute")

# --------------------------------------------------------------------------- bodies


@attrs.frozen
class JobDescription(JobFields):
    """A job to submit (FirecREST's `JobDescriptionModel`, plus f7tproxy's `schedulerOptions`).

    Give exactly one of `script` (the script's text) and `scriptPath` (a file on the system).
    """

    __schema_name__: ClassVar[str] = "JobDescriptionModel"
    env: dict[str, str] | list[str] | None = None
    """Environment variables of the job: `{"NAME": "value"}` or `["NAME=value"]`."""
    scheduler_options: list[str] | None = None
    """f7tproxy extension: more scheduler options, one per item, as after `#SBATCH`
    (`--time=00:10:00`) or `#PBS` (`-l walltime=00:10:00`). Options that would change
    the user or the account are refused."""


@attrs.frozen
class PostJobSubmitRequest:
    """Body of a job submission."""

    job: JobDescription


@attrs.frozen
class PostJobAttachRequest:
    """Body of an attach request."""

    command: str
    """Shell command run inside the job's allocation."""


@attrs.frozen
class PostJobSubmissionResponse:
    """The submitted job's id."""

    job_id: str | None


@attrs.frozen
class GetJobResponse:
    """Jobs (a list even for one id: ids may repeat)."""

    jobs: list[Job] | None


@attrs.frozen
class GetJobMetadataResponse:
    """Job metadata."""

    jobs: list[JobMetadata] | None


# --------------------------------------------------------------------------- helpers

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_MAX = 255


def _env(raw: dict[str, str] | list[str] | None) -> dict[str, str]:
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            name, sep, value = item.partition("=")
            if not sep:
                raise invalid("body", f"job.env[{i}]", "expected NAME=value")
            pairs.append((name, value))
    problems = [
        {"location": "body", "name": f"job.env.{name}", "message": "not a valid environment variable name"}
        for name, _ in pairs
        if not _ENV_NAME.fullmatch(name)
    ]
    if problems:
        raise ValidationFailed("Invalid request", data={"fields": problems})
    return dict(pairs)


def _spec(job: JobDescription, system: SystemContext) -> JobSpec:
    if (job.script is None) == (job.script_path is None):
        raise invalid("body", "job.script", "give exactly one of `script` and `scriptPath`")
    if job.script_path is not None and not job.script_path.startswith("/"):
        raise invalid("body", "job.scriptPath", "must be an absolute path")
    if not job.working_directory:
        raise invalid("body", "job.workingDirectory", "must not be empty")
    options = system.jobs.backend.check_options(job.scheduler_options or [])
    return JobSpec(**job_fields(job), env=_env(job.env), scheduler_options=options)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > _KEY_MAX or not key.isprintable():
        raise invalid("header", "Idempotency-Key", f"1 to {_KEY_MAX} printable characters")
    return key


# --------------------------------------------------------------------------- routes

_JOB_QUERY = (
    Param("allusers", {"type": "boolean", "default": False}, "All jobs the user may see, not only their own"),
    Param("account", {"type": "string"}, "Only jobs of this account"),
    Param("name", {"type": "string", "maxLength": 235}, "Only jobs with this name"),
    Param("time_window", {"type": "string", "enum": ["1h", "8h", "24h", "3d", "7d"], "default": "24h"},
          "How far back finished jobs are listed (live jobs always are); no effect on PBS"),
)  # fmt: skip


@compute.post("/<system>/jobs")
@operation(
    "Submit a job", tag="compute", firecrest="post_job_submit", status=201, response=PostJobSubmissionResponse, body=PostJobSubmitRequest,
    headers=(Param("Idempotency-Key", {"type": "string", "maxLength": _KEY_MAX},
                   "f7tproxy extension: a retry with the same key returns the job the first try made"),),
)  # fmt: skip
async def submit(system: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit a job; with `Idempotency-Key`, at most one job per key."""
    context = current_system()
    data = await json_body()
    spec = _spec(from_wire(PostJobSubmitRequest, data).job, context)
    key = _idempotency_key()
    async with lease() as held:
        submitted = await context.jobs.submit(held, current_user().name, spec, key)
    headers = {"Idempotent-Replayed": "true"} if submitted.replayed else {}
    return to_wire(PostJobSubmissionResponse(submitted.job_id)), 201, headers


@compute.get("/<system>/jobs")
@operation("List jobs", tag="compute", firecrest="get_jobs", response=GetJobResponse, query=_JOB_QUERY)
@shared_read
async def list_jobs(system: str) -> dict[str, Any]:
    """The user's jobs (or all visible ones), live ones and finished ones within the time window."""
    context = current_system()
    window = request.args.get("time_window") or "24h"
    if window not in ("1h", "8h", "24h", "3d", "7d"):
        raise invalid("query", "time_window", "expected one of 1h, 8h, 24h, 3d, 7d")
    query = JobQuery(
        user=current_user().name,
        allusers=query_bool("allusers"),
        account=query_str("account"),
        name=query_str("name", max_length=235),
        time_window=window,  # type: ignore[arg-type]
    )
    async with lease() as held:
        jobs = await context.jobs.get_jobs(held, query)
    return to_wire(GetJobResponse(jobs))  # type: ignore[no-any-return]


@compute.get("/<system>/jobs/<job_id>")
@operation("Get a job", tag="compute", firecrest="get_job", response=GetJobResponse)
@shared_read
async def get_job(system: str, job_id: str) -> dict[str, Any]:
    """One job; 404 "Job not found." if the scheduler does not know it."""
    context = current_system()
    job_id = context.job_id(job_id)  # before the lease: a bad id holds no slot
    jobs = await context.jobs.lookup_job(current_user().name, job_id, leased)
    return to_wire(GetJobResponse(jobs))  # type: ignore[no-any-return]


@compute.get("/<system>/jobs/<job_id>/metadata")
@operation("Get a job's script and standard streams", tag="compute", firecrest="get_job_metadata", response=GetJobMetadataResponse)
@shared_read
async def job_metadata(system: str, job_id: str) -> dict[str, Any]:
    """Script and standard input/output/error paths of a job."""
    context = current_system()
    job_id = context.job_id(job_id)
    found = await context.jobs.lookup_metadata(current_user().name, job_id, leased)
    return to_wire(GetJobMetadataResponse(found))  # type: ignore[no-any-return]


@compute.put("/<system>/jobs/<job_id>/attach")
@operation("Run a command in a job's allocation", tag="compute", firecrest="attach", status=204, body=PostJobAttachRequest)
async def attach(system: str, job_id: str) -> Response:
    """Run the command inside the running job (Slurm `srun --overlap`); 204 when it succeeded."""
    context = current_system()
    body = from_wire(PostJobAttachRequest, await json_body())
    job_id = context.job_id(job_id)
    async with lease() as held:
        await context.jobs.attach(held, job_id, body.command)
    return Response("", status=204)


@compute.delete("/<system>/jobs/<job_id>")
@operation("Cancel a job", tag="compute", firecrest="delete_job_cancel", status=204)
async def cancel(system: str, job_id: str) -> Response:
    """Cancel a job; 204 also when it had already finished."""
    context = current_system()
    job_id = context.job_id(job_id)
    async with lease() as held:
        await context.jobs.cancel(held, job_id)
    return Response("", status=204)
