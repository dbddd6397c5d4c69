"""Which extra `#PBS` options a job description may carry.

Each item is one option with its value, as written after `#PBS`:
`-l walltime=01:00:00`, `-W depend=afterok:123`, `-J 1-10`.
"""

from __future__ import annotations

import re

ALLOWED = frozenset({"-l", "-W", "-a", "-h", "-J", "-m", "-M", "-r", "-j", "-k", "-p", "-c", "-S"})

REFUSED = {
    "-u": "would run the job as another user",
    "-A": "would charge another account: use the job's `account` field",
    "-P": "would charge another project: use the job's `account` field",
    "-q": "use the job's `partition` or `reservation` field",
    "-N": "use the job's `name` field",
    "-o": "use the job's `standardOutput` field",
    "-e": "use the job's `standardError` field",
    "-v": "use the job's `env` field",
    "-V": "use the job's `env` field",
    "-I": "interactive jobs cannot run through the API",
    "-X": "interactive jobs cannot run through the API",
    "-z": "f7tproxy reads qsub's answer itself",
}

_OPTION = re.compile(r"^(-[A-Za-z])(?:\s+(\S.*))?$", re.DOTALL)
# -W group_list/run_as would change who the job runs as.
_W_REFUSED = re.compile(r"^\s*(group_list|run_as|umask_user)\s*=", re.IGNORECASE)


def judge(raw: str) -> list[str] | str:
    """One option as qsub arguments, or the reason it is refused."""
    option = raw.strip().removeprefix("#PBS").strip()
    m = _OPTION.match(option)
    if "\n" in option or "\0" in option:
        return "an option is one line"
    if m is None:
        return "expected one option and its value, e.g. `-l walltime=01:00:00`"
    if m.group(1) in REFUSED:
        return f"{m.group(1)} is refused: {REFUSED[m.group(1)]}"
    if m.group(1) not in ALLOWED:
        return f"{m.group(1)} is not an option f7tproxy passes on"
    if m.group(1) == "-W" and _W_REFUSED.match(m.group(2) or ""):
        return "-W group_list/run_as would run the job as someone else"
    return [m.group(1), m.group(2)] if m.group(2) else [m.group(1)]
