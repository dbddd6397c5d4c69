"""PBS Professional / OpenPBS command lines, as argument lists (the pool quotes every word).

Job listings use `qstat -F json`, which escapes free text itself.
"""

from __future__ import annotations

from .._jobenv import READ_ENV, env_words
from .._models import JobQuery, JobSpec

MARKER_VARIABLE = "F7T_IDEMPOTENCY_MARKER"
"""Job variable holding f7tproxy's idempotency marker (PBS has no settable job comment)."""

LIST_OUTPUT_LIMIT = 64 * 1024 * 1024

SUBMIT_WRAPPER = (
    'cd -- "$1" || exit 1; shift; ' + READ_ENV
    + 'if ((${#_f7t_envs[@]})); then export -- "${_f7t_envs[@]}"; fi; exec "$@"'
)
"""Fixed shell text: in directory $1 (qsub records it as PBS_O_WORKDIR), export the
job's variables (names in "$@", values on stdin; `export` is a builtin) and run qsub.
One `export` of the expanded list."""


def qsub(spec: JobSpec) -> tuple[list[str], str | None]:
    """The submit command line and its stdin (the inline script, if any).

    Variables are exported to qsub by its shell and passed on with `-V`, so
    values may hold commas, which `-v K=V,...` cannot carry; their values
    travel on stdin, never in an argument list (see `.._jobenv`).
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
    words, stdin = env_words(variables, spec.script)
    return ["bash", "-c", SUBMIT_WRAPPER, "qsub", spec.working_directory, *words, *argv], stdin


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
