"""Transfer jobs: where they run and log, and their submission through the cluster's scheduler."""

from __future__ import annotations

import re
import uuid
from typing import Any

import attrs

from ..config import ClusterConfig
from ..errors import BadRequest, InternalError
from ..scheduler import JobService, JobSpec
from ..ssh import Runner

_ACCOUNT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}")


@attrs.frozen
class TransferJob:
    """FirecREST's `TransferJob`: the job id, where it runs, and its two logs."""

    job_id: str
    system: str
    working_directory: str
    output_log: str
    error_log: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "system": self.system,
            "workingDirectory": self.working_directory,
            "logs": {"outputLog": self.output_log, "errorLog": self.error_log},
        }


def check_account(account: object) -> str | None:
    """`account` if it is absent or looks like a scheduler account name. Raises BadRequest."""
    if account is None or account == "":
        return None
    if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
        raise BadRequest(f"`account` is not a valid account name: {account!r}")
    return account


def working_directory(cluster: ClusterConfig, user: str) -> str:
    """`<default_work_dir file system>/<user>`, where transfer jobs run and log.

    Raises InternalError if the cluster has no default_work_dir file system.
    """
    fs = next((f for f in cluster.file_systems if f.default_work_dir), None)
    if fs is None:
        raise InternalError(f"system '{cluster.name}' has no default_work_dir file system for transfer jobs")
    return f"{fs.path.rstrip('/')}/{user}"


async def submit_transfer(
    service: JobService, run: Runner, user: str, *, name: str, script: str, account: str | None
) -> TransferJob:
    """Submit `script` as `user`'s transfer job `name`; its handle with the log paths.

    Raises what the scheduler backend raises (Forbidden, BadRequest, InternalError, ...).
    """
    cluster = service.cluster
    wd = working_directory(cluster, user)
    tag = uuid.uuid4().hex
    out, err = f"{wd}/.f7t_file_handling_job_{tag}.log", f"{wd}/.f7t_file_handling_job_error_{tag}.log"
    spec = JobSpec(
        working_directory=wd,
        script=script,
        name=name,
        account=account,
        standard_input="/dev/null",
        standard_output=out,
        standard_error=err,
    )
    submitted = await service.submit(run, user, spec)
    return TransferJob(submitted.job_id, cluster.name, wd, out, err)
