"""Concurrent lookups of single jobs of one user are answered by one squeue/sacct for them all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import pytest
import trio

from f7tproxy.config import SchedulerConfig
from f7tproxy.errors import NotFound
from f7tproxy.scheduler import JobService, Runner, SlurmBackend
from f7tproxy.scheduler._jobs import answers

from .fakes import Answer, FakeRunner, cluster

LIVE = ("101", "102", "103")
FINISHED = ("555",)


def asked_ids(argv: Sequence[str]) -> list[str]:
    given = next((a.removeprefix("--jobs=") for a in argv if a.startswith("--jobs=")), "")
    return [j for j in given.split(",") if j]


def squeue(argv: Sequence[str], stdin: str | None) -> Answer:
    fmt = next(a for a in argv if a.startswith("--Format="))
    sep, fields = fmt.split(":", 1)[1].split(",", 1)[0], fmt.count(",") + 1
    rows = []
    for job_id in (j for j in asked_ids(argv) if j in LIVE):
        row = [""] * fields
        row[0], row[7] = job_id, "RUNNING"
        rows.append(sep.join(row) + sep + "\n")
    return 0, "".join(rows), ""


def sacct(argv: Sequence[str], stdin: str | None) -> Answer:
    sep = next(a.removeprefix("--delimiter=") for a in argv if a.startswith("--delimiter="))
    fields = next(a for a in argv if a.startswith("--format=")).count(",") + 1
    rows = [sep.join([job_id, *[""] * (fields - 1)]) + "\n" for job_id in asked_ids(argv) if job_id in FINISHED]
    return 0, "".join(rows), ""


def several(argv: Sequence[str], stdin: str | None) -> Answer:
    """`several` of `scontrol write batch_script ID -`: each script's text, framed."""
    sep, words = argv[4], list(argv[5:])
    out = ""
    while words:
        count = int(words.pop(0))
        command, words = words[:count], words[count:]
        out += f"#!/bin/bash\necho {command[3]}\n{sep}0{sep}"
    return 0, out, ""


def script(argv: Sequence[str], stdin: str | None) -> Answer:
    return 0, f"#!/bin/bash\necho {argv[argv.index('batch_script') + 1]}\n", ""


@attrs.define
class Lessor:
    """Leases of the fake runner, counted (a batched lookup takes one lease for the whole batch)."""

    runner: FakeRunner
    leases: int = 0

    async def __call__(self, work: Callable[[Runner], Awaitable[Any]]) -> Any:
        self.leases += 1
        await trio.sleep(0.01)  # as a real lease and command would: the others arrive meanwhile
        return await work(self.runner)


def setup(window: float = 0.05, batch: int = 50) -> tuple[JobService, Lessor, list[tuple[str, str]]]:
    config = attrs.evolve(cluster(), scheduler=SchedulerConfig(lookup_window=window, lookup_batch=batch))
    counted: list[tuple[str, str]] = []
    jobs = JobService(config, SlurmBackend(config), on_lookup=lambda kind, how: counted.append((kind, how)))
    runner = FakeRunner({"squeue": squeue, "sacct": sacct, "bash": several, "scontrol": script})
    return jobs, Lessor(runner), counted


async def test_concurrent_job_lookups_run_one_squeue_and_one_sacct() -> None:
    jobs, lessor, counted = setup()
    found: dict[str, Any] = {}

    async def look(job_id: str) -> None:
        try:
            found[job_id] = [j.job_id for j in await jobs.lookup_job("u", job_id, lessor)]
        except NotFound:
            found[job_id] = "not found"

    async with trio.open_nursery() as n:
        for job_id in (*LIVE, "999"):
            n.start_soon(look, job_id)
    assert found == {"101": ["101"], "102": ["102"], "103": ["103"], "999": "not found"}
    assert lessor.runner.programs() == ["squeue", "sacct"]
    assert sorted(asked_ids(lessor.runner.calls[0][0])) == ["101", "102", "103", "999"]
    assert lessor.leases == 1
    assert sorted(counted) == [("job", "joined")] * 3 + [("job", "ran")]


async def test_concurrent_metadata_lookups_run_one_command_of_each_kind() -> None:
    jobs, lessor, counted = setup()
    found: dict[str, Any] = {}

    async def look(job_id: str) -> None:
        found[job_id] = [(m.job_id, m.script) for m in await jobs.lookup_metadata("u", job_id, lessor)]

    async with trio.open_nursery() as n:
        for job_id in ("101", "102", "555"):
            n.start_soon(look, job_id)
    assert found == {
        "101": [("101", "#!/bin/bash\necho 101\n")],
        "102": [("102", "#!/bin/bash\necho 102\n")],
        "555": [("555", None)],
    }
    # squeue for all three, sacct only for the one squeue no longer lists, one command for both scripts
    assert lessor.runner.programs() == ["squeue", "sacct", "bash"]
    assert asked_ids(lessor.runner.calls[1][0]) == ["555"]
    assert lessor.leases == 1 and len(counted) == 3


async def test_a_lookup_alone_waits_only_the_window_and_batches_are_bounded() -> None:
    jobs, lessor, _ = setup(window=0.05, batch=2)
    with trio.fail_after(5):
        async with trio.open_nursery() as n:
            for job_id in LIVE:
                n.start_soon(jobs.lookup_job, "u", job_id, lessor)
    # at most two ids a batch: 101 and 102 together, then 103 on its own
    assert lessor.runner.programs() == ["squeue", "sacct", "squeue", "sacct"]
    assert sorted(len(asked_ids(argv)) for argv, _ in lessor.runner.calls[::2]) == [1, 2]
    jobs, lessor, _ = setup(window=0.05)
    start = trio.current_time()
    await jobs.lookup_job("u", "101", lessor)
    assert trio.current_time() - start < 1


async def test_a_lookup_of_another_user_is_its_own_batch() -> None:
    jobs, lessor, _ = setup()
    async with trio.open_nursery() as n:
        n.start_soon(jobs.lookup_job, "u", "101", lessor)
        n.start_soon(jobs.lookup_job, "v", "102", lessor)
    assert lessor.leases == 2


@pytest.mark.parametrize(
    ("asked", "listed", "expected"),
    [("123", "123", True), ("123", "123_4", True), ("123_4", "123_4", True), ("123_4", "123_5", False),
     ("123_4", "123_[4-9]", True), ("123", "1234", False), ("123", "123.pbs", True), ("12", "123", False)],
)  # fmt: skip
def test_which_listed_job_answers_which_lookup(asked: str, listed: str, expected: bool) -> None:
    assert answers(asked, listed) is expected
