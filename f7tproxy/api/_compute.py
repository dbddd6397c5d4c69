"""Compute routes (FirecREST's /compute group): submit, list, inspect, cancel and attach to jobs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
from quart import Blueprint, Response, current_app, request

from ..errors import ValidationFailed
from ..scheduler import Job, JobMetadata, JobQuery, JobService, JobSpec, Runner
from ._auth import current_user
from ._openapi import Param, operation
from ._systems import system_or_404
from ._wire import from_wire, query_bool, query_str, to_wire

compute = Blueprint("compute", __name__, url_prefix="/compute")

# --------------------------------------------------------------------------- bodies


@attrs.frozen
class JobDescription:
    """A job to submit (FirecREST's `JobDescriptionModel`, plus f7tproxy's `schedulerOptions`).

    Give exactly one of `script` (the script's text) and `scriptPath` (a file on the system).
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


def _bad(name: str, message: str, location: str = "body") -> ValidationFailed:
    return ValidationFailed("Invalid request", data={"fields": [{"location": location, "name": name, "message": message}]})


def _env(raw: dict[str, str] | list[str] | None) -> dict[str, str]:
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        for i, item in enumerate(raw):
            name, sep, value = item.partition("=")
            if not sep:
                raise _bad(f"job.env[{i}]", "expected NAME=value")
            pairs.append((name, value))
    problems = [
        {"location": "body", "name": f"job.env.{name}", "message": "not a valid environment variable name"}
        for name, _ in pairs
        if not _ENV_NAME.fullmatch(name)
    ]
    if problems:
        raise ValidationFailed("Invalid request", data={"fields": problems})
    return dict(pairs)


def _spec(job: JobDescription, service: JobService) -> JobSpec:
    if (job.script is None) == (job.script_path is None):
        raise _bad("job.script", "give exactly one of `script` and `scriptPath`")
    if job.script_path is not None and not job.script_path.startswith("/"):
        raise _bad("job.scriptPath", "must be an absolute path")
    if not job.working_directory:
        raise _bad("job.workingDirectory", "must not be empty")
    options = service.backend.check_options(job.scheduler_options or [])
    return JobSpec(
        working_directory=job.working_directory,
        script=job.script,
        script_path=job.script_path,
        name=job.name,
        account=job.account,
        partition=job.partition,
        reservation=job.reservation,
        constraints=job.constraints,
        standard_input=job.standard_input,
        standard_output=job.standard_output,
        standard_error=job.standard_error,
        env=_env(job.env),
        scheduler_options=options,
    )


async def _read_body() -> bytes:
    # Read the whole (small) body before anything can fail: an error answered while
    # the body is still unread can stall the next request on a kept-alive connection.
    data = await request.get_data(cache=True, as_text=False)
    assert isinstance(data, bytes)  # as_text=False: Quart's overloads do not narrow it
    return data


async def _json_body() -> Any:
    data = await request.get_json(force=True, silent=True)
    if data is None:
        raise _bad("body", "expected a JSON object")
    return data


def _service(system: str) -> JobService:
    """The named system's job service. Raises NotFound("System not found")."""
    cluster = system_or_404(system)
    return current_app.runtime.schedulers[cluster.name]  # type: ignore[attr-defined,no-any-return]


@asynccontextmanager
async def _lease(system: str) -> AsyncIterator[tuple[JobService, Runner]]:
    """The system's job service and a pool lease as the calling user."""
    service = _service(system)
    user = current_user()
    async with current_app.runtime.pool.lease(service.cluster.name, user.name, user.token) as lease:  # type: ignore[attr-defined]
        yield service, lease


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key or len(key) > _KEY_MAX or not key.isprintable():
        raise _bad("Idempotency-Key", f"1 to {_KEY_MAX} printable characters", location="header")
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
    "Submit a job", tag="compute", status=201, response=PostJobSubmissionResponse, body=PostJobSubmitRequest,
    headers=(Param("Idempotency-Key", {"type": "string", "maxLength": _KEY_MAX},
                   "f7tproxy extension: a retry with the same key returns the job the first try made"),),
)  # fmt: skip
async def submit(system: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit a job; with `Idempotency-Key`, at most one job per key."""
    await _read_body()
    service = _service(system)
    body = from_wire(PostJobSubmitRequest, await _json_body())
    spec = _spec(body.job, service)
    key = _idempotency_key()
    async with _lease(system) as (service, lease):
        submitted = await service.submit(lease, current_user().name, spec, key)
    headers = {"Idempotent-Replayed": "true"} if submitted.replayed else {}
    return to_wire(PostJobSubmissionResponse(submitted.job_id)), 201, headers


@compute.get("/<system>/jobs")
@operation("List jobs", tag="compute", response=GetJobResponse, query=_JOB_QUERY)
async def list_jobs(system: str) -> dict[str, Any]:
    """The user's jobs (or all visible ones), live ones and finished ones within the time window."""
    args = request.args
    window = args.get("time_window") or "24h"
    if window not in ("1h", "8h", "24h", "3d", "7d"):
        raise _bad("time_window", "expected one of 1h, 8h, 24h, 3d, 7d", location="query")
    query = JobQuery(
        user=current_user().name,
        allusers=query_bool(args, "allusers"),
        account=query_str(args, "account"),
        name=query_str(args, "name", max_length=235),
        time_window=window,  # type: ignore[arg-type]
    )
    async with _lease(system) as (service, lease):
        jobs = await service.get_jobs(lease, query)
    return to_wire(GetJobResponse(jobs))  # type: ignore[no-any-return]


@compute.get("/<system>/jobs/<job_id>")
@operation("Get a job", tag="compute", response=GetJobResponse)
async def get_job(system: str, job_id: str) -> dict[str, Any]:
    """One job; 404 "Job not found." if the scheduler does not know it."""
    async with _lease(system) as (service, lease):
        jobs = await service.get_job(lease, current_user().name, job_id)
    return to_wire(GetJobResponse(jobs))  # type: ignore[no-any-return]


@compute.get("/<system>/jobs/<job_id>/metadata")
@operation("Get a job's script and standard streams", tag="compute", response=GetJobMetadataResponse)
async def job_metadata(system: str, job_id: str) -> dict[str, Any]:
    """Script and standard input/output/error paths of a job."""
    async with _lease(system) as (service, lease):
        found = await service.get_job_metadata(lease, job_id)
    return to_wire(GetJobMetadataResponse(found))  # type: ignore[no-any-return]


@compute.put("/<system>/jobs/<job_id>/attach")
@operation("Run a command in a job's allocation", tag="compute", status=204, body=PostJobAttachRequest)
async def attach(system: str, job_id: str) -> Response:
    """Run the command inside the running job (Slurm `srun --overlap`); 204 when it succeeded."""
    await _read_body()
    _service(system)
    body = from_wire(PostJobAttachRequest, await _json_body())
    async with _lease(system) as (service, lease):
        await service.attach(lease, job_id, body.command)
    return Response("", status=204)


@compute.delete("/<system>/jobs/<job_id>")
@operation("Cancel a job", tag="compute", status=204)
async def cancel(system: str, job_id: str) -> Response:
    """Cancel a job; 204 also when it had already finished."""
    async with _lease(system) as (service, lease):
        await service.cancel(lease, job_id)
    return Response("", status=204)
