"""Slurm: command builders, parsers on output recorded from the testbed's Slurm 22.05, option policy."""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Callable, Sequence
import shlex
import subprocess

import pytest

from f7tproxy.errors import InternalError, ValidationFailed
from f7tproxy.scheduler import JobQuery, JobSpec
from f7tproxy.scheduler.slurm import _commands as cmd
from f7tproxy.scheduler.slurm import _parsers as parse
from f7tproxy.scheduler.slurm import SlurmBackend

from .fakes import Answer, FakeRunner, cluster, run_with_fake

RECORDED = pathlib.Path(__file__).parent / "recorded" / "slurm"
SEP = "\x1fdeadbeefdeadbeef\x1f"  # the separator the recordings were made with
HOSTILE = 'x|y "q" \'s\' ü\nline2'


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def test_squeue_recording_parses_a_hostile_name() -> None:
    rows = parse.squeue_rows(recorded("squeue.txt"), SEP, [k for k, _ in cmd.SQUEUE_FIELDS])
    held = next(r for r in rows if r["job_id"] == "20")
    assert held["name"] == HOSTILE
    job = parse.job_from_row(held, default_cluster="x")
    assert job.name == HOSTILE and job.status.state == "PENDING" and job.status.state_reason == "JobHeldUser"
    assert job.time.start is None and job.time.limit == 86400 and job.working_directory == "/home/fireuser"
    assert job.cluster == "testbed" and job.account == "proj1" and job.user == "fireuser"


def test_sacct_recording() -> None:
    rows = parse.sacct_rows(recorded("sacct.txt"), SEP, [k for k, _ in cmd.SACCT_FIELDS])
    assert rows and all(r["job_id"] == r["job_id_raw"] for r in rows)
    jobs = [parse.job_from_row(r, default_cluster="x") for r in rows]
    done = [j for j in jobs if j.status.state == "COMPLETED"]
    assert done and all(j.status.exit_code == 0 and j.time.end for j in done)


def test_merge_prefers_live_states_and_squeue_names() -> None:
    live = [parse.job_from_row(r, default_cluster="x")
            for r in parse.squeue_rows(recorded("squeue.txt"), SEP, [k for k, _ in cmd.SQUEUE_FIELDS])]  # fmt: skip
    history = [parse.job_from_row(r, default_cluster="x")
               for r in parse.sacct_rows(recorded("sacct.txt"), SEP, [k for k, _ in cmd.SACCT_FIELDS])]  # fmt: skip
    merged = {j.job_id: j for j in parse.merge(live, history)}
    assert merged["20"].name == HOSTILE
    assert merged["19"].status.exit_code == 0  # finished: sacct's record, with its exit code
    assert merged["19"].name == 'a|b "q" \'s ü'  # squeue's name (sacct stores " as `)


def test_status_recordings() -> None:
    nodes = parse.nodes(recorded("sinfo.txt"), SEP, [k for k, _ in cmd.SINFO_FIELDS])
    assert len(nodes) == 1 and nodes[0].partitions == ["normal", "debug"] and nodes[0].cpus == 2
    # recorded while slurmd was re-registering (another test restarts it): sinfo said "unknown"
    assert nodes[0].state == ["UNKNOWN"] and nodes[0].idle_cpus == 2 and nodes[0].cpu_load is None
    parts = parse.partitions(recorded("scontrol_partitions.txt"))
    assert [(p.name, p.partition, p.total_nodes) for p in parts] == [("normal", "UP", 1), ("debug", "UP", 1)]
    assert not any(p.hidden for p in parts)
    hidden = parse.partitions("PartitionName=staff Hidden=YES State=UP TotalCPUs=2 TotalNodes=1\n")
    assert [(p.name, p.hidden) for p in hidden] == [("staff", True)]
    assert parse.reservations(recorded("scontrol_reservations.txt"), now=0) == []
    accounts = parse.accounts(recorded("sacctmgr_user.txt"))
    assert [(a.name, a.default) for a in accounts] == [("proj1", True), ("proj2", False)]
    assert parse.accounts(recorded("sacctmgr_user.txt"), "other") == []
    assert parse.marked(recorded("squeue_marked.txt"), SEP, "f7t-idem:0123") == "20"


def test_reservation_line() -> None:
    # The 22.05 one-liner layout (scontrol show -o reservations), written after the testbed's own
    # partition lines: the testbed has no reservation, and creating one would disturb other tests.
    line = ("ReservationName=maint StartTime=1795500000 EndTime=1795503600 Duration=01:00:00 Nodes=vm NodeCnt=1 "
            "CoreCnt=2 Features=(null) PartitionName=(null) Flags=MAINT,SPEC_NODES TRES=cpu=2 Users=root "
            "Groups=(null) Accounts=(null) Licenses=(null) State=INACTIVE BurstBuffer=(null) Watts=n/a")  # fmt: skip
    (r,) = parse.reservations(line + "\n", now=0)
    assert (r.name, r.node_list, r.start_time, r.end_time, r.state) == ("maint", "vm", 1795500000, 1795503600, "INACTIVE")


@pytest.mark.parametrize(
    ("word", "state"),
    [("RUNNING", "RUNNING"), ("CONFIGURING", "PENDING"), ("CANCELLED by 1001", "CANCELLED"),
     ("REQUEUE_FED", "PENDING"), ("FAILED", "FAILED"), ("COMPLETING", "COMPLETING")],
)  # fmt: skip
def test_live_states_never_contain_f(word: str, state: str) -> None:
    assert parse.live_state(word) == state


def test_unexpected_values_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    keys = [k for k, _ in cmd.SQUEUE_FIELDS]
    row = dict.fromkeys(keys, "")
    row.update(job_id="7", state="BRAND_NEW_STATE", priority="lots", elapsed="??", start="yesterday")
    with caplog.at_level(logging.WARNING):
        job = parse.job_from_row(row, default_cluster="c")
    assert job.priority is None and job.time.elapsed is None and job.status.state == "BRAND_NEW_STATE"
    assert job.cluster == "c"
    assert len(caplog.records) >= 3


def test_sbatch_line() -> None:
    spec = JobSpec(working_directory="/home/u", script="#!/bin/bash\n", name="n|m", account="proj1",
                   partition="debug", env={"A": "x,y", "B": "two\nlines"}, scheduler_options=("--time=5",),
                   marker="f7t-idem:1")  # fmt: skip
    argv, stdin = cmd.sbatch(spec)
    # Names in the argument list, values on stdin before the script.
    assert argv[:7] == ["bash", "-c", cmd.ENV_WRAPPER, "sbatch", "2", "A", "B"]
    assert argv[7:] == ["sbatch", "--parsable", "--chdir=/home/u", "--job-name=n|m", "--account=proj1",
                        "--partition=debug", "--comment=f7t-idem:1", "--time=5"]  # fmt: skip
    assert stdin == "x,y\0two\nlines\0#!/bin/bash\n"
    assert not any("x,y" in a or "two" in a for a in argv)
    argv, stdin = cmd.sbatch(JobSpec(working_directory="/w", script_path="/w/job.sh"))
    assert argv == ["sbatch", "--parsable", "--chdir=/w", "--", "/w/job.sh"] and stdin is None
    argv, stdin = cmd.sbatch(JobSpec(working_directory="/w", script_path="/w/job.sh", env={"T": "s3cr3t"}))
    assert argv[3:7] == ["sbatch", "1", "T", "sbatch"] and argv[-2:] == ["--", "/w/job.sh"] and stdin == "s3cr3t\0"
    with pytest.raises(ValueError, match="NUL"):
        cmd.sbatch(JobSpec(working_directory="/w", script="x", env={"T": "a\0b"}))


def test_env_reaches_sbatch_through_a_file_descriptor_never_an_argument(tmp_path: pathlib.Path) -> None:
    env = {"A": "x,y z", "B": "two\nlines", "C": "'\"$HOME\"'", "F7T_SECRET": "tok-9f3a", "E": "", "envs": "n"}
    script = "#!/bin/bash\necho hi\n"
    argv, stdin = cmd.sbatch(JobSpec(working_directory="/w", script=script, env=env))
    assert not any(value in word for value in ("x,y z", "two", "tok-9f3a") for word in argv)
    got = run_with_fake(tmp_path, "sbatch", argv, stdin)
    assert got["argv"].split("\0")[:-1] == ["--export-file=3", "--parsable", "--chdir=/w"]
    exported = got["export"].split("\0")
    assert exported[-len(env) - 1:] == [*(f"{k}={v}" for k, v in env.items()), ""]  # after the login environment
    assert "LOGIN_VAR=kept" in exported
    assert got["stdin"] == script  # the rest of stdin is the script, untouched
    assert "tok-9f3a" not in got["environ"]  # and sbatch's own environment never held it


def test_list_lines() -> None:
    q = JobQuery(user="u", account="p", name="a,b", job_ids=("5",))
    argv = cmd.squeue(q, SEP)
    assert "--user=u" in argv and "--account=p" in argv and "--jobs=5" in argv
    assert not any(a.startswith("--name") for a in argv)  # a comma would split it; filtered after
    argv = cmd.sacct(JobQuery(user="u", allusers=True, name="n"), SEP, 3600)
    assert "--allusers" in argv and "--name=n" in argv and "--starttime=now-3600seconds" in argv
    assert argv[-1].endswith(",JobIDRaw") and f"--delimiter={SEP}" in argv
    assert shlex.join(argv)  # every word can be quoted


def test_options_policy() -> None:
    check_options = SlurmBackend(cluster("slurm")).check_options
    assert check_options(["#SBATCH --time=00:10:00", "--exclusive", "--mem=1G"]) == (
        "--time=00:10:00", "--exclusive", "--mem=1G")
    with pytest.raises(ValidationFailed) as err:
        check_options(["--uid=0", "--account=other", "-A x", "--bogus", "--time=1\n--uid=0", "--clusters=c2"])
    fields = (err.value.data or {})["fields"]
    assert [f["name"] for f in fields] == [f"job.schedulerOptions[{i}]" for i in range(6)]
    assert "another user" in fields[0]["message"] and "account" in fields[1]["message"]


def test_reused_job_ids_keep_the_newest() -> None:
    old = {"job_id": "5", "submit": "100", "name": "old"}
    new = {"job_id": "5", "submit": "200", "name": "new"}
    assert parse.newest([new, old]) == [new] and parse.newest([old, new]) == [new]


def test_file_name_patterns() -> None:
    row = {"job_id": "42", "user": "u", "name": "n"}
    assert parse.expand("/o/%x-%j-%u.%5j.out%%", row) == "/o/n-42-u.00042.out%"
    assert parse.expand("/o/%A_%a", {"job_id": "7_3"}) == "/o/7_3"


ID = "uid=1001(fireuser) gid=1001(fireuser) groups=1001(fireuser),1002(proj1)\n"


def framed(*parts: tuple[int, str]) -> Callable[[Sequence[str], str | None], Answer]:
    """An answer to `several(...)`: each part's output and exit status, framed by the call's separator."""

    def answer(argv: Sequence[str], _stdin: str | None) -> Answer:
        sep = argv[argv.index("f7t-several") + 1]
        return 0, "".join(f"{out}{sep}{status}{sep}" for status, out in parts), "sacctmgr: oops\n"

    return answer


async def test_userinfo_is_one_remote_command() -> None:
    backend = SlurmBackend(cluster("slurm"))
    run = FakeRunner({"bash": framed((0, ID), (0, recorded("sacctmgr_user.txt")))})
    info = await backend.userinfo(run, "fireuser")
    assert info.user.name == "fireuser" and [g.name for g in info.groups] == ["fireuser", "proj1"]
    assert [(a.name, a.default) for a in info.accounts or []] == [("proj1", True), ("proj2", False)]
    ((argv, _),) = run.calls
    assert "id" in argv and "sacctmgr" in argv and argv[argv.index("sacctmgr") + 5] == "fireuser"
    with pytest.raises(InternalError, match="sacctmgr show user failed .exit status 1.: sacctmgr: oops"):
        await backend.userinfo(FakeRunner({"bash": framed((0, ID), (1, ""))}), "fireuser")
    with pytest.raises(InternalError, match="id failed"):
        await backend.userinfo(FakeRunner({"bash": framed((1, ""), (0, ""))}), "fireuser")
    with pytest.raises(InternalError, match="unreadable id and sacctmgr output"):
        await backend.userinfo(FakeRunner({"bash": (0, ID, "")}), "fireuser")



async def test_slurmctld_not_answering_is_503_with_retry_after_not_500_or_400() -> None:
    from f7tproxy.errors import ServiceUnavailable

    down = "slurm_load_jobs error: Unable to contact slurm controller (connect failure)"
    backend = SlurmBackend(cluster())
    with pytest.raises(ServiceUnavailable) as listed:
        await backend.get_jobs(FakeRunner({"squeue": (1, "", down)}), JobQuery(user="u"))
    assert listed.value.retry_after and "Unable to contact slurm controller" in listed.value.message
    sbatch_down = "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"
    spec = JobSpec(working_directory="/home/u", script="#!/bin/bash\ntrue\n")
    with pytest.raises(ServiceUnavailable):  # not the 400 that other "error:" lines of sbatch get
        await backend.submit(FakeRunner({"sbatch": (1, "", sbatch_down), "bash": (1, "", sbatch_down)}), spec)
    with pytest.raises(ServiceUnavailable):
        await backend.cancel(FakeRunner({"scancel": (1, "", f"scancel: error: {down}")}), "12")
    with pytest.raises(InternalError):  # any other failure stays a 500
        await backend.get_jobs(FakeRunner({"squeue": (1, "", "squeue: error: something else")}), JobQuery(user="u"))


@pytest.mark.parametrize("said", [
    "slurm_load_jobs error: Unable to contact slurm controller (receive failure)",
    "slurm_load_jobs error: Socket timed out on send/recv operation",
    "slurm_load_jobs error: Zero Bytes were transmitted or received",
    "slurm_load_jobs error: Communication connection failure",
    "slurm_load_jobs error: Communication shutdown failure",
    "slurm_load_jobs error: Message receive failure",
    "slurm_load_jobs error: Message send failure",
    "slurm_load_jobs error: Unexpected message received",
    "slurm_load_jobs error: Connection reset by peer",
    "slurm_load_jobs error: Connection refused",
    "slurm_load_jobs error: Broken pipe",
    "slurm_load_jobs error: Slurmctld on 'vm' hasn't registered yet.",
])  # fmt: skip
async def test_every_communication_error_of_libslurm_is_503(said: str) -> None:
    from f7tproxy.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable):
        await SlurmBackend(cluster()).get_jobs(FakeRunner({"squeue": (1, "", said)}), JobQuery(user="u"))
