"""PBS: parsers and the backend on outputs recorded from real PBS servers (see recorded/pbs/README.md)."""

from __future__ import annotations

import pathlib
import time

import pytest

from f7tproxy.errors import NotFound, NotImplementedOnSystem, ValidationFailed
from f7tproxy.scheduler import JobQuery, JobSpec, PbsBackend
from f7tproxy.scheduler.pbs import _commands as cmd
from f7tproxy.scheduler.pbs import _parsers as parse

from .fakes import FakeRunner, cluster, run_with_fake

RECORDED = pathlib.Path(__file__).parent / "recorded" / "pbs"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def local(text: str) -> int:
    return int(time.mktime(time.strptime(text, "%a %b %d %H:%M:%S %Y")))


def test_finished_job() -> None:
    ((job, attrs),) = parse.jobs(recorded("qstat_finished.json"), default_cluster="x")
    assert (job.job_id, job.name, job.user, job.partition, job.nodes) == ("40", "pbs_sleep", "pbsuser", "workq", "pbs")
    assert (job.status.state, job.status.exit_code) == ("COMPLETED", 0)
    assert job.time.elapsed == 10 and job.time.limit == 120
    assert job.time.start == local("Wed Mar 17 20:36:48 2021") and job.time.end == local("Wed Mar 17 20:36:58 2021")
    assert job.working_directory.endswith("/pbs_sleep/3/stage") and job.cluster == "pbs"
    meta = parse.metadata(job, attrs)
    # Output_Path is standard output (FirecREST swaps the two)
    assert meta.standard_output is not None and meta.standard_output.endswith("pbs_sleep.o40")
    assert meta.standard_error is not None and meta.standard_error.endswith("pbs_sleep.e40")
    assert not meta.standard_output.startswith("pbs:")


def test_held_and_running_jobs() -> None:
    ((held, _),) = parse.jobs(recorded("qstat_held.json"), default_cluster="x")
    assert (held.job_id, held.status.state, held.status.state_reason) == ("157", "PENDING", "held")
    assert held.nodes == "" and held.allocation_nodes == 0  # no exec_host yet (FirecREST #173)
    ((run, _),) = parse.jobs(recorded("qstat_running.json"), default_cluster="x")
    assert (run.job_id, run.status.state, run.user) == ("12860476", "RUNNING", "jan_brezina")
    assert run.nodes == "charon24,charon21" and run.allocation_nodes == 2 and run.time.end is None


@pytest.mark.parametrize(
    ("state", "status", "word"),
    [("F", 0, "COMPLETED"), ("F", 1, "FAILED"), ("F", 271, "CANCELLED"), ("F", -29, "TIMEOUT"),
     ("Q", None, "PENDING"), ("E", None, "COMPLETING"), ("S", None, "SUSPENDED"), ("X", 0, "COMPLETED")],
)  # fmt: skip
def test_states(state: str, status: int | None, word: str) -> None:
    attrs = {"job_state": state} | ({"Exit_status": status} if status is not None else {})
    assert parse.state(attrs)[0] == word
    if word not in {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}:
        assert "F" not in word


def test_nodes_queues_reservations() -> None:
    (node,) = parse.nodes(recorded("pbsnodes.json"))
    assert (node.name, node.cpus, node.state, node.alloc_cpus, node.idle_cpus) == ("hpcnode03", 56, ["IDLE"], 32, 24)
    assert node.partitions == ["normal"] and node.free_memory == (384000000 - 278921216) // 1024
    (queue,) = parse.partitions(recorded("qstat_queues.json"))
    assert (queue.name, queue.partition) == ("workq", "UP")
    (resv,) = parse.reservations(recorded("pbs_rstat.txt"))
    assert (resv.name, resv.node_list, resv.state) == ("casper-a100-testing", "casper41,casper44", "RESV_RUNNING")
    assert resv.start_time == local("Wed Nov 12 12:00:00 2025")


def test_qsub_line() -> None:
    spec = JobSpec(working_directory="/w d", script="#!/bin/bash\n", name="n", partition="p", reservation="r",
                   account="proj", env={"A": "x,y"}, marker="f7t-idem:1", scheduler_options=("-l", "walltime=1:00"))  # fmt: skip
    argv, stdin = cmd.qsub(spec)
    # Names in the argument list, values on stdin before the script.
    assert argv[:5] == ["bash", "-c", cmd.SUBMIT_WRAPPER, "qsub", "/w d"]
    assert argv[5:] == ["2", "A", "F7T_IDEMPOTENCY_MARKER", "qsub", "-V", "-N", "n", "-q", "r",
                        "-P", "proj", "-l", "walltime=1:00"]  # fmt: skip
    assert stdin == "x,y\0f7t-idem:1\0#!/bin/bash\n"
    assert parse.submitted_id("1234.pbs-server\n") == "1234" and parse.submitted_id("55[].srv") == "55[]"
    argv, stdin = cmd.qsub(JobSpec(working_directory="/w", script_path="/w/job.sh"))
    assert argv[3:] == ["qsub", "/w", "0", "qsub", "-V", "--", "/w/job.sh"] and stdin is None


def test_env_reaches_qsub_in_its_environment_never_an_argument(tmp_path: pathlib.Path) -> None:
    env = {"A": "x,y z", "B": "two\nlines", "F7T_SECRET": "tok-9f3a", "envs": "E", "n": "N", "v": "V"}
    script = "#!/bin/bash\necho hi\n"
    argv, stdin = cmd.qsub(JobSpec(working_directory=str(tmp_path), script=script, env=env, marker="m:1"))
    assert not any(value in word for value in ("x,y z", "two", "tok-9f3a") for word in argv)
    got = run_with_fake(tmp_path, "qsub", argv, stdin)
    assert got["argv"].split("\0")[:-1] == ["-V"]
    environ = got["environ"].split("\0")
    assert {*(f"{k}={v}" for k, v in env.items()), "F7T_IDEMPOTENCY_MARKER=m:1", "LOGIN_VAR=kept"} <= set(environ)
    assert got["stdin"] == script and got["pwd"] == f"{tmp_path}\n"
    assert not any(item.startswith("_f7t_") for item in environ)  # the wrapper's own stay local


def test_options_policy() -> None:
    check_options = PbsBackend(cluster("pbs")).check_options
    assert check_options(["#PBS -l walltime=01:00:00", "-W depend=afterok:12"]) == (
        "-l", "walltime=01:00:00", "-W", "depend=afterok:12")
    with pytest.raises(ValidationFailed) as err:
        check_options(["-u root", "-A other", "-W run_as=root", "-I"])
    assert len((err.value.data or {})["fields"]) == 4


@pytest.fixture
def backend() -> PbsBackend:
    return PbsBackend(cluster("pbs"))


async def test_backend_on_recordings(backend: PbsBackend) -> None:
    run = FakeRunner({
        "qstat": lambda argv, _: (153, "", recorded("qstat_unknown.txt")) if "9999" in argv
        else (0, recorded("qstat_finished.json"), ""),
        "qsub": (0, "41.pbs\n", ""),
        "qdel": (1, "", "qdel: Unknown Job Id 9999.pbs\n"),
    })  # fmt: skip
    assert [j.job_id for j in await backend.get_jobs(run, JobQuery(user="pbsuser"))] == ["40"]
    assert await backend.get_jobs(run, JobQuery(user="someone")) == []
    assert len(await backend.get_jobs(run, JobQuery(user="someone", allusers=True))) == 1
    assert await backend.get_jobs(run, JobQuery(user="pbsuser", job_ids=("9999",))) == []
    assert await backend.submit(run, JobSpec(working_directory="/w", script="x")) == "41"
    with pytest.raises(NotFound, match="Job not found"):
        await backend.cancel(run, "9999")
    with pytest.raises(NotImplementedOnSystem):
        await backend.attach(run, "40", "hostname")
    assert await backend.accounts(run, "pbsuser") is None
    run = FakeRunner({"id": (0, "uid=1001(pbsuser) gid=1001(pbsuser) groups=1001(pbsuser)\n", "")})
    info = await backend.userinfo(run, "pbsuser")
    assert info.user.name == "pbsuser" and info.accounts is None and run.programs() == ["id"]
    with pytest.raises(NotFound):
        backend.check_job_id("40; rm -rf /")
    for bad in ("40\n", "\u0664\u0660", "40.pbs\n", "40[\u0661]"):
        with pytest.raises(NotFound):
            backend.check_job_id(bad)
    assert backend.check_job_id("40[1].pbs") == "40[1].pbs"
