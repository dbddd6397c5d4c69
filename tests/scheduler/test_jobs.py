"""JobService: idempotent submit and read-your-writes, on the Slurm backend with a scripted runner."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio

from f7tproxy.errors import NotFound, SshConnectionLost
from f7tproxy.scheduler import JobQuery, JobService, JobSpec, SlurmBackend

from .fakes import Answer, FakeRunner, cluster

SPEC = JobSpec(working_directory="/home/u", script="#!/bin/bash\ntrue\n", name="j")


class Slurm:
    """A tiny fake slurmctld: sbatch adds jobs; squeue lists them with comments; sacct knows none."""

    def __init__(self, *, visible: bool = True) -> None:
        self.jobs: dict[str, str] = {}  # id -> comment
        self.visible = visible

    def sbatch(self, argv: Sequence[str], stdin: str | None) -> Answer:
        job_id = str(100 + len(self.jobs))
        comment = next((a.removeprefix("--comment=") for a in argv if a.startswith("--comment=")), "(null)")
        self.jobs[job_id] = comment
        return 0, f"{job_id}\n", ""

    def squeue(self, argv: Sequence[str], stdin: str | None) -> Answer:
        fmt = next(a for a in argv if a.startswith("--Format="))
        sep = fmt.split(":", 1)[1].split(",", 1)[0]
        if not self.visible:
            return 0, "", ""
        if fmt.count(",") == 1:  # the marker query: JobID, Comment
            return 0, "".join(f"{i}{sep}{c}{sep}\n" for i, c in self.jobs.items()), ""
        fields = fmt.count(",") + 1
        rows = []
        for i in self.jobs:
            row = [""] * fields
            row[0], row[7] = i, "PENDING"
            rows.append(sep.join(row) + sep + "\n")
        return 0, "".join(rows), ""

    def runner(self) -> FakeRunner:
        return FakeRunner({"sbatch": self.sbatch, "squeue": self.squeue, "sacct": (0, "", "")})


def service() -> JobService:
    return JobService(cluster(), SlurmBackend(cluster()))


async def test_same_key_makes_one_job() -> None:
    slurm, jobs = Slurm(), service()
    run = slurm.runner()
    first = await jobs.submit(run, "u", SPEC, "key-1")
    again = await jobs.submit(run, "u", SPEC, "key-1")
    other = await jobs.submit(run, "u", SPEC, "key-2")
    assert (first.replayed, again.replayed, other.replayed) == (False, True, False)
    assert first.job_id == again.job_id != other.job_id
    assert run.programs().count("sbatch") == 2
    assert slurm.jobs[first.job_id] == JobService.marker("c1", "u", "key-1")


async def test_a_new_process_finds_the_marked_job() -> None:
    # The first try reached slurmctld but its answer was lost (and f7tproxy restarted):
    # the retry finds the job by its marker instead of submitting again.
    slurm = Slurm()
    run = slurm.runner()
    first = await service().submit(run, "u", SPEC, "k")
    retry = await service().submit(run, "u", SPEC, "k")
    assert retry.replayed and retry.job_id == first.job_id and run.programs().count("sbatch") == 1


async def test_concurrent_submits_with_one_key_wait_for_each_other() -> None:
    slurm, jobs = Slurm(), service()
    run = slurm.runner()
    results = []

    async def one() -> None:
        results.append(await jobs.submit(run, "u", SPEC, "same"))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(one)
    assert len({r.job_id for r in results}) == 1 and len(slurm.jobs) == 1
    assert not jobs._locks  # released


async def test_a_lost_connection_is_not_retried() -> None:
    calls = []

    def lost(argv: Sequence[str], stdin: str | None) -> Answer:
        calls.append(argv)
        raise SshConnectionLost("connection lost")

    run = FakeRunner({"sbatch": lost, "squeue": Slurm().squeue, "sacct": (0, "", "")})
    with pytest.raises(SshConnectionLost):
        await service().submit(run, "u", SPEC, "k")
    assert len(calls) == 1


async def test_read_your_writes() -> None:
    slurm, jobs = Slurm(visible=False), service()  # squeue/sacct do not list it yet
    run = slurm.runner()
    submitted = await jobs.submit(run, "u", SPEC)
    (job,) = await jobs.get_job(run, "u", submitted.job_id)
    assert (job.job_id, job.status.state, job.name, job.user) == (submitted.job_id, "PENDING", "j", "u")
    assert [j.job_id for j in await jobs.get_jobs(run, JobQuery(user="u"))] == [submitted.job_id]
    assert await jobs.get_jobs(run, JobQuery(user="someone-else")) == []
    assert await jobs.get_jobs(run, JobQuery(user="u", name="other")) == []
    with pytest.raises(NotFound, match="Job not found."):
        await jobs.get_job(run, "u", "999")
    with pytest.raises(NotFound, match="Job not found."):
        await jobs.get_job(run, "u", "1;rm")


@pytest.mark.parametrize("job_id", ["100\n", "\u0661\u0660\u0660", "100_\u0661", "0", "100 "])
async def test_job_ids_are_matched_whole_and_in_ascii_digits(job_id: str) -> None:
    slurm, jobs = Slurm(), service()
    run = slurm.runner()
    assert (await jobs.submit(run, "u", SPEC)).job_id == "100"
    with pytest.raises(NotFound, match="Job not found."):
        await jobs.get_job(run, "u", job_id)
    assert jobs.backend.check_job_id("100_2") == "100_2"
