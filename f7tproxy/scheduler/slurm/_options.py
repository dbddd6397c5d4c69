"""Which extra `#SBATCH` options a job description may carry (pyfirecrest issue #204).

An allow-list of long options, each `--name` or `--name=value`. Options that
would run the job as someone else or charge another account are refused with
a reason, and so are those the job description already has a field for (so
that one request cannot say two things) and those that would change what
f7tproxy reads back from sbatch.
"""

from __future__ import annotations

import re

ALLOWED = frozenset({
    "acctg-freq", "array", "begin", "core-spec", "cores-per-socket", "cpu-freq", "cpus-per-gpu",
    "cpus-per-task", "deadline", "delay-boot", "dependency", "distribution", "exclude", "exclusive",
    "extra-node-info", "gpu-bind", "gpu-freq", "gpus", "gpus-per-node", "gpus-per-socket",
    "gpus-per-task", "gres", "gres-flags", "hint", "hold", "kill-on-invalid-dep", "licenses",
    "mail-type", "mail-user", "mem", "mem-bind", "mem-per-cpu", "mem-per-gpu", "mincpus", "network",
    "nice", "no-kill", "no-requeue", "nodefile", "nodelist", "nodes", "ntasks", "ntasks-per-core",
    "ntasks-per-gpu", "ntasks-per-node", "ntasks-per-socket", "open-mode", "overcommit",
    "oversubscribe", "power", "prefer", "profile", "qos", "requeue", "signal", "sockets-per-node",
    "spread-job", "switches", "thread-spec", "threads-per-core", "time", "time-min", "tmp",
    "use-min-nodes", "wait-all-nodes",
})  # fmt: skip
"""sbatch long options a job may add."""

REFUSED = {
    "uid": "would run the job as another user",
    "gid": "would run the job as another group",
    "get-user-env": "would load another user's environment",
    "account": "would charge another account: use the job's `account` field",
    "wckey": "would change the accounting key of the job",
    "clusters": "would submit to another cluster than this system",
    "cluster-constraint": "would submit to another cluster than this system",
    "partition": "use the job's `partition` field",
    "reservation": "use the job's `reservation` field",
    "constraint": "use the job's `constraints` field",
    "job-name": "use the job's `name` field",
    "chdir": "use the job's `workingDirectory` field",
    "input": "use the job's `standardInput` field",
    "output": "use the job's `standardOutput` field",
    "error": "use the job's `standardError` field",
    "export": "use the job's `env` field",
    "export-file": "use the job's `env` field",
    "comment": "f7tproxy keeps the job's comment for its idempotency marker",
    "wrap": "the job's script is its `script` or `scriptPath`",
    "parsable": "f7tproxy reads sbatch's answer itself",
    "wait": "f7tproxy does not block a request on a job's end",
    "test-only": "would not submit a job",
    "priority": "only operators set priorities",
}

_OPTION = re.compile(r"^--([a-z][a-z0-9-]*)(?:=(.*))?$", re.DOTALL)


def judge(raw: str) -> list[str] | str:
    """One option as an sbatch argument, or the reason it is refused.

    An option is written as after `#SBATCH` (the prefix may be kept):
    `--time=00:10:00`, `--exclusive`.
    """
    option = raw.strip()
    if option.startswith("#SBATCH"):
        option = option.removeprefix("#SBATCH").strip()
    m = _OPTION.match(option)
    if "\n" in option or "\0" in option:
        return "an option is one line"
    if m is None:
        return "expected one long option, `--name` or `--name=value`"
    if m.group(1) in REFUSED:
        return f"--{m.group(1)} is refused: {REFUSED[m.group(1)]}"
    if m.group(1) not in ALLOWED:
        return f"--{m.group(1)} is not an option f7tproxy passes on"
    return [option]
