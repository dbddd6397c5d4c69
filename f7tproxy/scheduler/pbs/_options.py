"""Which extra `#PBS` options a job description may carry.

Each item is one option with its value, as written after `#PBS`:
`-l walltime=01:00:00`, `-W depend=afterok:123`, `-J 1-10`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...errors import ValidationFailed

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


def check_options(options: Sequence[str]) -> tuple[str, ...]:
    """`options` as qsub arguments, or ValidationFailed listing every refused one."""
    out: list[str] = []
    problems: list[dict[str, str]] = []
    for i, raw in enumerate(options):
        option = raw.strip().removeprefix("#PBS").strip()
        m = _OPTION.match(option)
        reason = None
        if "\n" in option or "\0" in option:
            reason = "an option is one line"
        elif m is None:
            reason = "expected one option and its value, e.g. `-l walltime=01:00:00`"
        elif m.group(1) in REFUSED:
            reason = f"{m.group(1)} is refused: {REFUSED[m.group(1)]}"
        elif m.group(1) not in ALLOWED:
            reason = f"{m.group(1)} is not an option f7tproxy passes on"
        elif m.group(1) == "-W" and _W_REFUSED.match(m.group(2) or ""):
            reason = "-W group_list/run_as would run the job as someone else"
        if reason is not None:
            problems.append({"location": "body", "name": f"job.schedulerOptions[{i}]", "message": reason})
        else:
            assert m is not None
            out.append(m.group(1))
            if m.group(2):
                out.append(m.group(2))
    if problems:
        raise ValidationFailed("Invalid scheduler options", data={"fields": problems})
    return tuple(out)
