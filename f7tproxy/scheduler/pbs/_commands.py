"""PBS Professional / OpenPBS command lines, as argument lists (the pool quotes every word).

Job listings use `qstat -F json`, which escapes free text itself.
"""

from __future__ import annotations

from .._models import JobQuery, JobSpec

MARKER_VARIABLE = "F7T_IDEMPOTENCY_MARKER"
"""Job variable holding f7tproxy's idempotency marker (PBS has no settable job comment)."""

LIST_OUTPUT_LIMIT = 64 * 1024 * 1024

IN_DIRECTORY = 'cd -- "$1" || exit 1; shift; exec "$@"'
"""Fixed shell text: run "$@" in directory $1 (qsub records it as PBS_O_WORKDIR)."""


def qsub(spec: JobSpec) -> tuple[list[str], str | None]:
    """The submit command line and its stdin (the inline script, if any).

    Variables are set for qsub with `env` and exported with `-V`, so values
    may hold commas, which `-v K=V,...` cannot carry.
    """
    argv = ["qsub", "-V"]
    if spec.name is not None:
        argv += ["-N", spec.name]
    queue = spec.reservation or spec.partition
    if queue is not None:
        argv += ["-q", queue]
    if spec.account is not None:
        argv += ["-P", spec.account]
    if spec.standard_output is not None:
        argv += ["-o", spec.standard_output]
    if spec.standard_error is not None:
        argv += ["-e", spec.standard_error]
    argv.extend(spec.scheduler_options)
    if spec.script_path is not None:
        argv += ["--", spec.script_path]
    variables = dict(spec.env)
    if spec.marker is not None:
        variables[MARKER_VARIABLE] = spec.marker
    if variables:
        argv = ["env", *(f"{k}={v}" for k, v in variables.items()), *argv]
    return ["bash", "-c", IN_DIRECTORY, "f7t-submit", spec.working_directory, *argv], spec.script


def qstat_jobs(query: JobQuery) -> list[str]:
    """All jobs the server shows, finished ones too (`-x`); filtered by the backend."""
    return ["qstat", "-f", "-F", "json", "-x", *query.job_ids]


def qdel(job_id: str) -> list[str]:
    return ["qdel", job_id]


def pbsnodes() -> list[str]:
    return ["pbsnodes", "-a", "-F", "json"]


def qstat_queues() -> list[str]:
    return ["qstat", "-Q", "-f", "-F", "json"]


def pbs_rstat() -> list[str]:
    return ["pbs_rstat", "-f"]
