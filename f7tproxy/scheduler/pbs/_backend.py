"""PBS Professional / OpenPBS through its command line over SSH."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar

from ...config import ClusterConfig
from ...errors import BadRequest, Forbidden, InternalError, NotFound, NotImplementedOnSystem
from ...ssh import CommandResult, Runner
from .._backend import SchedulerBackend
from .._models import Account, Job, JobMetadata, JobQuery, JobSpec, Node, Partition, Reservation
from . import _commands as cmd
from . import _options
from . import _parsers as parse

T = TypeVar("T")
log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[0-9]+(\[[0-9]*\])?(\.[A-Za-z0-9.-]+)?")


class PbsBackend(SchedulerBackend):
    """PBS's `qsub`, `qstat -F json`, `qdel`, `pbsnodes`, `pbs_rstat`. No attach, no accounts."""

    kind = "pbs"
    job_id_pattern = _JOB_ID
    option_policy = staticmethod(_options.judge)

    def __init__(self, cluster: ClusterConfig) -> None:
        self._cluster = cluster
        self._timeout = cluster.scheduler.timeout

    async def submit(self, run: Runner, spec: JobSpec) -> str:
        argv, stdin = cmd.qsub(spec)
        result = await run.run(argv, stdin=stdin, timeout=self._timeout)
        job_id = parse.submitted_id(result.stdout) if result.ok else None
        if job_id is not None:
            return job_id
        error = result.stderr.strip()
        if re.search(r"not authorized|Unauthorized|exceed|limit", error, re.IGNORECASE):
            raise Forbidden(f"Unable to submit new job: {error}")
        if error.startswith("qsub:"):
            raise BadRequest(f"Unable to submit new job: {error}")
        raise InternalError(f"Unable to submit new job: {error or result.stdout.strip()[:500]}")

    async def find_marked(self, run: Runner, user: str, marker: str) -> str | None:
        for job, attrs in await self._qstat(run, JobQuery(user=user)):
            if job.user == user and parse.marker_of(attrs) == marker:
                return job.job_id
        return None

    async def get_jobs(self, run: Runner, query: JobQuery) -> list[Job]:
        # PBS filters nothing for us here; `time_window` has no effect (history is the server's).
        out = []
        for job, _ in await self._qstat(run, query):
            if not query.allusers and not query.job_ids and job.user != query.user:
                continue
            if query.account is not None and job.account != query.account:
                continue
            if query.name is not None and job.name != query.name:
                continue
            out.append(job)
        return out

    async def get_job_metadata(self, run: Runner, job_id: str) -> list[JobMetadata]:
        return [parse.metadata(job, attrs) for job, attrs in await self._qstat(run, JobQuery(user="", job_ids=(job_id,)))]

    async def cancel(self, run: Runner, job_id: str) -> None:
        result = await run.run(cmd.qdel(job_id), timeout=self._timeout)
        if result.ok:
            return
        error = result.stderr.strip()
        if "Unknown Job Id" in error:
            raise NotFound("Job not found.")
        if "has finished" in error:
            return  # DELETE of a finished job: nothing left to do
        if "Unauthorized" in error:
            raise Forbidden(f"Unable to cancel job {job_id}: {error}")
        raise InternalError(f"Unable to cancel job {job_id}: {error}")

    async def attach(self, run: Runner, job_id: str, command: str) -> None:
        raise NotImplementedOnSystem("Attaching to a job is not supported on PBS systems")

    async def nodes(self, run: Runner) -> list[Node]:
        result = await run.run(cmd.pbsnodes(), timeout=self._timeout, output_limit=cmd.LIST_OUTPUT_LIMIT)
        return _parsed(result, "pbsnodes", parse.nodes)

    async def partitions(self, run: Runner) -> list[Partition]:
        result = await run.run(cmd.qstat_queues(), timeout=self._timeout)
        return _parsed(result, "qstat -Q", parse.partitions)

    async def reservations(self, run: Runner) -> list[Reservation]:
        result = await run.run(cmd.pbs_rstat(), timeout=self._timeout)
        if not result.ok:
            raise InternalError(f"pbs_rstat failed: {result.stderr.strip()[:500]}")
        return parse.reservations(result.stdout)

    async def accounts(self, run: Runner, user: str) -> list[Account] | None:
        return None

    async def _qstat(self, run: Runner, query: JobQuery) -> list[tuple[Job, dict[str, Any]]]:
        result = await run.run(cmd.qstat_jobs(query), timeout=self._timeout, output_limit=cmd.LIST_OUTPUT_LIMIT)
        if not result.ok and "Unknown Job Id" in result.stderr:
            if not result.stdout.strip().startswith("{"):
                return []
        elif not result.ok:
            raise InternalError(f"qstat failed: {result.stderr.strip()[:500]}")
        try:
            return parse.jobs(result.stdout, default_cluster=self._cluster.name)
        except ValueError as exc:
            raise InternalError(f"unreadable qstat output: {exc}") from None


def _parsed(result: CommandResult, what: str, parser: Callable[[str], T]) -> T:
    if not result.ok:
        raise InternalError(f"{what} failed: {result.stderr.strip()[:500]}")
    try:
        return parser(result.stdout)
    except ValueError as exc:
        raise InternalError(f"unreadable {what} output: {exc}") from None
