"""Remote command lines: the program an audit line names, through f7tproxy's wrappers."""

from __future__ import annotations

import pytest

from f7tproxy.filesystem._commands import compress_argv
from f7tproxy.scheduler import JobQuery, JobSpec
from f7tproxy.scheduler.pbs import _commands as pbs
from f7tproxy.scheduler.slurm import _commands as slurm
from f7tproxy.ssh._command import program_name


@pytest.mark.parametrize(
    ("argv", "program"),
    [
        (["/usr/bin/stat", "--", "/x"], "stat"),
        (["env", "SLURM_TIME_FORMAT=%s", "squeue"], "squeue"),
        (["env", "-u", "X", "-i", "--", "A=1", "/bin/find", "."], "find"),
        (["timeout", "--kill-after=2s", "-s", "TERM", "30s", "env", "A=b", "sacct"], "sacct"),
        (["bash", "-c", 'exec "$@"', "scancel", "scancel", "5"], "scancel"),
        (["sh", "-c", "exit 3"], "sh"),
        (["env"], ""),
        ([], ""),
    ],
)
def test_program_name_sees_through_wrappers(argv: list[str], program: str) -> None:
    assert program_name(argv) == program


def test_every_scheduler_command_is_named_by_its_program() -> None:
    spec = JobSpec(working_directory="/w", script="x", env={"A": "1"})
    assert program_name(slurm.sbatch(spec)[0]) == "sbatch"
    assert program_name(pbs.qsub(spec)[0]) == "qsub"
    assert program_name(slurm.squeue(JobQuery(user="u"), "|")) == "squeue"
    assert program_name(slurm.sacct(JobQuery(user="u"), "|", 60)) == "sacct"
    assert program_name(slurm.scontrol_partitions()) == "scontrol"
    assert program_name(compress_argv("/a/b", "/a/b.tgz", compression="gzip", dereference=False,
                                      match_pattern=".*")) == "tar"  # fmt: skip
