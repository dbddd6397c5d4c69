"""Slurm command lines, as argument lists (the pool quotes every word).

Free-text fields come back between separators made fresh per call (see
`.._text`); times are epoch seconds through `SLURM_TIME_FORMAT=%s`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._jobenv import READ_ENV, env_words
from .._models import JobQuery, JobSpec

TIME_FORMAT = ["env", "SLURM_TIME_FORMAT=%s"]

SQUEUE_FIELDS: tuple[tuple[str, str], ...] = (
    ("job_id", "JobID"),
    ("cluster", "Cluster"),
    ("name", "Name"),
    ("user", "UserName"),
    ("group", "GroupName"),
    ("account", "Account"),
    ("partition", "Partition"),
    ("state", "State"),
    ("reason", "Reason"),
    ("allocation_nodes", "NumNodes"),
    ("nodes", "NodeList"),
    ("priority", "PriorityLong"),
    ("elapsed", "TimeUsed"),
    ("submit", "SubmitTime"),
    ("start", "StartTime"),
    ("end", "EndTime"),
    ("limit", "TimeLimit"),
    ("working_directory", "WorkDir"),
    ("comment", "Comment"),
    ("standard_input", "StdIn"),
    ("standard_output", "StdOut"),
    ("standard_error", "StdErr"),
)
"""`squeue --Format` fields: (our key, Slurm's name). Unknown names only warn on stderr."""

SACCT_FIELDS: tuple[tuple[str, str], ...] = (
    ("job_id", "JobID"),
    ("cluster", "Cluster"),
    ("name", "JobName"),
    ("user", "User"),
    ("group", "Group"),
    ("account", "Account"),
    ("partition", "Partition"),
    ("state", "State"),
    ("reason", "Reason"),
    ("exit_code", "ExitCode"),
    ("allocation_nodes", "AllocNodes"),
    ("nodes", "NodeList"),
    ("priority", "Priority"),
    ("elapsed", "ElapsedRaw"),
    ("submit", "Submit"),
    ("start", "Start"),
    ("end", "End"),
    ("suspended", "Suspended"),
    ("limit", "TimelimitRaw"),
    ("working_directory", "WorkDir"),
    ("comment", "Comment"),
    ("job_id_raw", "JobIDRaw"),
)
"""`sacct --format` fields. The last is a job id: records are cut at the newline after it.
A field this Slurm does not know makes sacct fail; the backend then drops it (logged)."""

LIST_OUTPUT_LIMIT = 64 * 1024 * 1024
"""Bytes of squeue/sacct output accepted; more is OutputTooLarge (413)."""


def sbatch(spec: JobSpec) -> tuple[list[str], str | None]:
    """The submit command line and its stdin (the inline script, if any).

    `--parsable` prints `ID` or `ID;cluster`. Environment variables reach
    sbatch NUL-separated through `--export-file` on a file descriptor (see
    `ENV_WRAPPER`), so values may hold commas, quotes and newlines, which
    `--export=K=V,...` cannot; their values travel on stdin, never in an
    argument list (see `.._jobenv`).
    """
    argv = ["sbatch", "--parsable", f"--chdir={spec.working_directory}"]
    for flag, value in (
        ("--job-name", spec.name),
        ("--account", spec.account),
        ("--partition", spec.partition),
        ("--reservation", spec.reservation),
        ("--constraint", spec.constraints),
        ("--input", spec.standard_input),
        ("--output", spec.standard_output),
        ("--error", spec.standard_error),
        ("--comment", spec.marker),
    ):
        if value is not None:
            argv.append(f"{flag}={value}")
    argv.extend(spec.scheduler_options)
    if spec.script_path is not None:
        argv += ["--", spec.script_path]
    if not spec.env:
        return argv, spec.script
    words, stdin = env_words(spec.env, spec.script)
    return ["bash", "-c", ENV_WRAPPER, "sbatch", *words, *argv], stdin


ENV_WRAPPER = READ_ENV + (
    '_f7t_cmd=$1; shift; exec "$_f7t_cmd" --export-file=3 "$@" 3< <(env -0; printf "%s\\0" "${_f7t_envs[@]}")'
)
"""Fixed shell text (names arrive as "$@", values on stdin): `--export-file`
replaces the job's environment, so the login environment (`env -0`) goes
first and the job's variables after it, overriding. `printf` is a builtin:
the values never appear in an argument list."""


def squeue(query: JobQuery, sep: str) -> list[str]:
    """squeue of live jobs (and finished ones slurmctld still holds: `--states=all`)."""
    argv = [*TIME_FORMAT, "squeue", "--noheader", "--states=all"]
    if not query.allusers:
        argv.append(f"--user={query.user}")
    if query.account:
        argv.append(f"--account={query.account}")
    if query.name and "," not in query.name:
        argv.append(f"--name={query.name}")
    if query.job_ids:
        argv.append(f"--jobs={','.join(query.job_ids)}")
    argv.append("--Format=" + ",".join(f"{name}:{sep}" for _, name in SQUEUE_FIELDS))
    return argv


def sacct(query: JobQuery, sep: str, window: int, fields: Sequence[tuple[str, str]] = SACCT_FIELDS) -> list[str]:
    """sacct of jobs (allocations only, `-X`), within the last `window` seconds unless ids are given."""
    argv = [*TIME_FORMAT, "sacct", "--noheader", "--parsable2", f"--delimiter={sep}", "-X"]
    argv.append("--allusers" if query.allusers else f"--user={query.user}")
    if query.account:
        argv.append(f"--accounts={query.account}")
    if query.name and "," not in query.name:
        argv.append(f"--name={query.name}")
    if query.job_ids:
        argv.append(f"--jobs={','.join(query.job_ids)}")
    else:
        argv += [f"--starttime=now-{window}seconds", "--endtime=now"]
    argv.append("--format=" + ",".join(name for _, name in fields))
    return argv


def squeue_marked(user: str, sep: str) -> list[str]:
    """The user's jobs slurmctld holds, with their comments (idempotency markers)."""
    return ["squeue", "--noheader", "--states=all", f"--user={user}", f"--Format=JobID:{sep},Comment:{sep}"]


def batch_script(job_id: str) -> list[str]:
    """The batch script of a job slurmctld still holds."""
    return ["scontrol", "write", "batch_script", job_id, "-"]


def scancel(job_id: str) -> list[str]:
    return ["scancel", "--verbose", job_id]


def srun_attach(job_id: str, command: str) -> list[str]:
    """The user's command, run by their shell inside the job's allocation.

    The command is the user's own shell text (FirecREST appends it raw); here it
    is one quoted argument of `bash -c`, so it cannot alter srun's options.
    """
    return ["srun", f"--jobid={job_id}", "--overlap", "bash", "-c", command]


def sinfo(sep: str) -> list[str]:
    """One line per (node, partition): see `SINFO_FIELDS`."""
    return ["sinfo", "--all", "--Node", "--noheader", "--format=" + sep.join(code for _, code in SINFO_FIELDS) + sep]


SINFO_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "%N"),
    ("sockets_cores_threads", "%z"),
    ("cpus", "%c"),
    ("cpu_load", "%O"),
    ("free_memory", "%e"),
        ("features", "%f"),
    ("address", "%o"),
    ("hostname", "%n"),
    ("state", "%T"),
    ("partition", "%R"),
    ("weight", "%w"),
    ("cpus_state", "%C"),
)


def scontrol_partitions() -> list[str]:
    return [*TIME_FORMAT, "scontrol", "--all", "--oneliner", "show", "partitions"]


def scontrol_reservations() -> list[str]:
    return [*TIME_FORMAT, "scontrol", "--all", "--oneliner", "show", "reservations"]


def sacctmgr_accounts(user: str) -> list[str]:
    """The user's default account and associations in one query: `default|cluster|account` per
    association (Slurm refuses `|` in these names)."""
    return ["sacctmgr", "--noheader", "--parsable2", "show", "user", user, "withassoc",
            "format=defaultaccount,cluster,account"]  # fmt: skip
