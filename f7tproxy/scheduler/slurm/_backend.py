"""Slurm through its command line over SSH."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

import attrs

from ...config import ClusterConfig
from ...errors import ApiError, BadRequest, Forbidden, InternalError, NotFound, ServiceUnavailable
from ...ssh import CommandResult, Runner
from .._backend import SchedulerBackend, read_id
from .._models import (
    FINISHED_STATES, TIME_WINDOWS, Account, Job, JobMetadata, JobQuery, JobSpec, Node, Partition, Reservation, UserInfo,
)  # fmt: skip
from .._text import id_command, new_separator, several, split_several
from . import _commands as cmd
from . import _options
from . import _parsers as parse

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[1-9][0-9]*(_[0-9]+)?")  # sacct --jobs=0 would list every job
_INVALID_FIELD = re.compile(r'Invalid field requested: "([^"]+)"')
_CONTROLLER_DOWN = re.compile(
    r"Unable to contact slurm controller|Socket timed out on send/recv operation"
    r"|Slurm backup controller in standby mode|Zero Bytes were transmitted or received"
    r"|Communication (connection|shutdown) failure|Message (send|receive) failure"
    r"|Unexpected message received|Slurmctld on .* hasn't registered yet"
    r"|Connection refused|Connection reset by peer|Broken pipe|Transport endpoint is not connected"
)
"""What Slurm's commands say when slurmctld (or slurmdbd) is down, going down or not
answering: libslurm's communication errors and the socket errors it passes on. The
scheduler is unavailable (503, retried later), not a bug (500) nor a bad request (400)."""
_CONTROLLER_RETRY_AFTER = 5
_HISTORY_FOR_MARKERS = 7 * 86400
"""How far back sacct is searched for an idempotency marker (where the site stores comments)."""


class SlurmBackend(SchedulerBackend):
    """Slurm's `sbatch`, `squeue`, `sacct`, `scontrol`, `scancel`, `sinfo`, `sacctmgr`, `srun`."""

    kind = "slurm"
    job_id_pattern = _JOB_ID
    option_policy = staticmethod(_options.judge)

    def __init__(self, cluster: ClusterConfig) -> None:
        self._cluster = cluster
        self._timeout = cluster.scheduler.timeout
        self._sacct_fields: tuple[tuple[str, str], ...] = cmd.SACCT_FIELDS

    async def submit(self, run: Runner, spec: JobSpec) -> str:
        argv, stdin = cmd.sbatch(spec)
        result = await run.run(argv, stdin=stdin, timeout=self._timeout)
        job_id = parse.submitted_id(result.stdout) if result.ok else None
        if job_id is not None:
            return job_id
        error = _stderr(result)
        _raise_if_controller_down(error, "Unable to submit new job")
        if parse.QUOTA.search(error):
            raise Forbidden(f"Unable to submit new job: {error}")
        if "error:" in error:
            raise BadRequest(f"Unable to submit new job: {error}")
        raise InternalError(f"Unable to submit new job: {error or result.stdout.strip()[:500]}")

    async def find_marked(self, run: Runner, user: str, marker: str) -> str | None:
        sep = new_separator()
        result = await run.run(cmd.squeue_marked(user, sep), timeout=self._timeout,
                               output_limit=cmd.LIST_OUTPUT_LIMIT)  # fmt: skip
        if not result.ok:
            raise _failure("squeue failed", _stderr(result))
        found = parse.marked(result.stdout, sep, marker)
        if found is not None:
            return found
        # Finished jobs leave slurmctld after MinJobAge; sacct has their comment
        # only where the site stores it (AccountingStoreFlags=job_comment), and
        # only from the job's start on (a pending job is still in squeue).
        fields = (("job_id", "JobID"), ("comment", "Comment"), ("job_id_raw", "JobIDRaw"))
        query = JobQuery(user=user)
        rows = await self._sacct(run, query, sep, _HISTORY_FOR_MARKERS, fields, quiet=True)
        return next((r["job_id"] for r in rows if r.get("comment") == marker), None)

    async def get_jobs(self, run: Runner, query: JobQuery) -> list[Job]:
        sep = new_separator()
        live = await self._squeue(run, query, sep)
        window = TIME_WINDOWS.get(query.time_window, TIME_WINDOWS["24h"])
        history = parse.newest(await self._sacct(run, query, sep, window, self._sacct_fields))
        jobs = parse.merge(
            [parse.job_from_row(r, default_cluster=self._cluster.name) for r in live],
            [parse.job_from_row(r, default_cluster=self._cluster.name) for r in history],
        )
        if query.name is not None:
            # squeue and sacct take comma-separated name lists; filter exactly here.
            # (slurmdbd stores `"` as a backtick.)
            jobs = [j for j in jobs if query.name in (j.name, j.name.replace("`", '"'))
                    or j.name == query.name.replace('"', "`")]  # fmt: skip
        if query.account is not None:
            jobs = [j for j in jobs if j.account == query.account]
        return jobs

    async def watch_jobs(self, run: Runner, user: str, job_ids: Sequence[str]) -> list[Job]:
        # One squeue for all; sacct only for the jobs that ended (their exit code) or
        # that slurmctld no longer holds: a queue of running jobs costs one command.
        sep = new_separator()
        query = JobQuery(user=user, allusers=True, job_ids=tuple(job_ids))
        live = [parse.job_from_row(r, default_cluster=self._cluster.name) for r in await self._squeue(run, query, sep)]
        running = {j.job_id for j in live if j.status.state not in FINISHED_STATES}
        ended = tuple(i for i in job_ids if i not in running)
        history: list[Job] = []
        if ended:
            rows = await self._sacct(run, attrs.evolve(query, job_ids=ended), sep, 0, self._sacct_fields, quiet=True)
            history = [parse.job_from_row(r, default_cluster=self._cluster.name) for r in parse.newest(rows)]
        return parse.merge(live, history)

    async def get_job_metadata(self, run: Runner, job_id: str) -> list[JobMetadata]:
        return (await self.get_jobs_metadata(run, (job_id,)))[job_id]

    async def get_jobs_metadata(self, run: Runner, job_ids: Sequence[str]) -> dict[str, list[JobMetadata]]:
        # One squeue for all, one sacct for those slurmctld no longer has, one command for the scripts.
        sep = new_separator()
        live = await self._squeue(run, JobQuery(user="", allusers=True, job_ids=tuple(job_ids)), sep)
        rows = {job_id: next((r for r in live if r["job_id"].strip() == job_id), None) for job_id in job_ids}
        found: dict[str, list[JobMetadata]] = {}
        gone = tuple(job_id for job_id, row in rows.items() if row is None)
        if gone:
            query = JobQuery(user="", allusers=True, job_ids=gone)
            history = {r["job_id"] for r in await self._sacct(run, query, sep, 0, self._sacct_fields, quiet=True)}
            # Gone from slurmctld: Slurm 22.05's accounting has neither script nor paths.
            found.update((job_id, [parse.metadata(job_id, None, None)] if job_id in history else []) for job_id in gone)
        running = [job_id for job_id in job_ids if rows[job_id] is not None]
        scripts = await self._scripts(run, running)
        found.update((job_id, [parse.metadata(job_id, rows[job_id], scripts[job_id])]) for job_id in running)
        return {job_id: found[job_id] for job_id in job_ids}

    async def _scripts(self, run: Runner, job_ids: Sequence[str]) -> dict[str, str | None]:
        """The batch scripts of `job_ids` (None: none to be had), in one remote command."""
        if not job_ids:
            return {}
        if len(job_ids) == 1:
            result = await run.run(cmd.batch_script(job_ids[0]), timeout=self._timeout)
            outcomes = [(result.exit_status, result.stdout)]
        else:
            sep = new_separator()
            result = await run.run(several([cmd.batch_script(j) for j in job_ids], sep), timeout=self._timeout)
            try:
                outcomes = [(status, out) for status, out in split_several(result.stdout, sep, len(job_ids))]
            except ValueError as exc:
                raise InternalError(f"unreadable batch scripts: {exc}") from None
        for job_id, (status, _) in zip(job_ids, outcomes, strict=True):
            if status != 0:
                log.info("no batch script for job %s: %s", job_id, _stderr(result)[:200])
        return {job_id: out if status == 0 else None for job_id, (status, out) in zip(job_ids, outcomes, strict=True)}

    async def cancel(self, run: Runner, job_id: str) -> None:
        result = await run.run(cmd.scancel(job_id), timeout=self._timeout)
        error = _stderr(result)
        _raise_if_controller_down(error, f"Unable to cancel job {job_id}")
        if "Invalid job id" in error:
            raise NotFound("Job not found.")
        if "already completing or completed" in error:
            return  # DELETE of a finished job: nothing left to do
        if "Access/permission denied" in error or "Permission denied" in error:
            raise Forbidden(f"Unable to cancel job {job_id}: {error}")
        if not result.ok or re.search(r".+error:.*", error):
            raise InternalError(f"Unable to cancel job {job_id}: {error}")

    async def attach(self, run: Runner, job_id: str, command: str) -> None:
        result = await run.run(cmd.srun_attach(job_id, command))
        if result.ok:
            return
        error = _stderr(result)
        _raise_if_controller_down(error, f"Unable to cancel job {job_id}")
        if "Invalid job id" in error:
            raise NotFound("Job not found.")
        if "Access/permission denied" in error:
            raise Forbidden(f"Unable to attach to job {job_id}: {error}")
        raise BadRequest(f"Unable to attach to job {job_id}: exit status {result.exit_status}: {error}")

    async def nodes(self, run: Runner) -> list[Node]:
        sep = new_separator()
        result = await run.run(cmd.sinfo(sep), timeout=self._timeout, output_limit=cmd.LIST_OUTPUT_LIMIT)
        _check(result, "sinfo")
        return parse.nodes(result.stdout, sep, [k for k, _ in cmd.SINFO_FIELDS])

    async def partitions(self, run: Runner) -> list[Partition]:
        result = await run.run(cmd.scontrol_partitions(), timeout=self._timeout)
        _check(result, "scontrol show partitions")
        return parse.partitions(result.stdout)

    async def reservations(self, run: Runner) -> list[Reservation]:
        result = await run.run(cmd.scontrol_reservations(), timeout=self._timeout)
        _check(result, "scontrol show reservations")
        return parse.reservations(result.stdout, now=time.time())

    async def accounts(self, run: Runner, user: str) -> list[Account] | None:
        result = await run.run(cmd.sacctmgr_accounts(user), timeout=self._timeout)
        _check(result, "sacctmgr show user")
        return parse.accounts(result.stdout)

    async def userinfo(self, run: Runner, user: str) -> UserInfo:
        # `id` and sacctmgr in one remote command: one sshd session instead of two.
        sep = new_separator()
        result = await run.run(several([id_command(), cmd.sacctmgr_accounts(user)], sep), timeout=self._timeout)
        _check(result, "id and sacctmgr")
        try:
            (id_status, id_out), (sacctmgr_status, sacctmgr_out) = split_several(result.stdout, sep, 2)
        except ValueError as exc:
            raise InternalError(f"unreadable id and sacctmgr output: {exc}") from None
        info = read_id(id_status, id_out, result.stderr)
        if sacctmgr_status != 0:
            raise InternalError(f"sacctmgr show user failed (exit status {sacctmgr_status}): {_stderr(result)[:500]}")
        return attrs.evolve(info, accounts=parse.accounts(sacctmgr_out))

    # ------------------------------------------------------------------ helpers

    async def _squeue(self, run: Runner, query: JobQuery, sep: str) -> list[parse.Row]:
        keys = [k for k, _ in cmd.SQUEUE_FIELDS]
        result = await run.run(cmd.squeue(query, sep), timeout=self._timeout, output_limit=cmd.LIST_OUTPUT_LIMIT)
        error = _stderr(result)
        if not result.ok:
            if "Invalid job id" in error:
                return []  # asked by id, and slurmctld no longer (or never) had it
            raise _failure("squeue failed", error)
        if error:
            log.warning("squeue: %s", error[:500])  # e.g. a --Format field this Slurm lacks
        try:
            return parse.squeue_rows(result.stdout, sep, keys)
        except ValueError as exc:
            raise InternalError(f"unreadable squeue output: {exc}") from None

    async def _sacct(
        self,
        run: Runner,
        query: JobQuery,
        sep: str,
        window: int,
        fields: tuple[tuple[str, str], ...],
        *,
        quiet: bool = False,
    ) -> list[parse.Row]:
        while True:
            argv = cmd.sacct(query, sep, window, fields)
            result = await run.run(argv, timeout=self._timeout, output_limit=cmd.LIST_OUTPUT_LIMIT)
            error = _stderr(result)
            if result.ok:
                break
            bad = _INVALID_FIELD.search(error)
            if bad and len(fields) > 2 and any(name == bad.group(1) for _, name in fields[:-1]):
                # An older or newer Slurm without this field: go on without it (sacct is read-only).
                log.warning("sacct on %s has no field %s; it is left out", self._cluster.name, bad.group(1))
                fields = tuple(f for f in fields if f[1] != bad.group(1))
                self._sacct_fields = tuple(f for f in self._sacct_fields if f[1] != bad.group(1))
                continue
            # Accounting down or not configured: live jobs still answer.
            (log.info if quiet else log.warning)("sacct failed on %s: %s", self._cluster.name, error[:300])
            return []
        try:
            return parse.sacct_rows(result.stdout, sep, [k for k, _ in fields])
        except ValueError as exc:
            raise InternalError(f"unreadable sacct output: {exc}") from None


def _stderr(result: CommandResult) -> str:
    return result.stderr.strip()


def _failure(what: str, error: str) -> ApiError:
    """The error of a failed Slurm command: 503 when slurmctld did not answer, else 500."""
    if _CONTROLLER_DOWN.search(error):
        return ServiceUnavailable(f"{what}: {error[:500]}", retry_after=_CONTROLLER_RETRY_AFTER)
    return InternalError(f"{what}: {error[:500]}")


def _raise_if_controller_down(error: str, what: str) -> None:
    if _CONTROLLER_DOWN.search(error):
        raise _failure(what, error)


def _check(result: CommandResult, what: str) -> None:
    if not result.ok:
        raise _failure(f"{what} failed (exit status {result.exit_status})", _stderr(result))


__all__ = ["SlurmBackend"]
