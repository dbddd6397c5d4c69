"""The Slurm backend against the testbed's Slurm, through a real SSH pool."""

from __future__ import annotations

import pathlib
import re
import secrets
import uuid
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
import trio

from f7tproxy.scheduler import JobQuery, JobService, JobSpec, SlurmBackend
from f7tproxy.ssh import CommandResult, Lease
from f7tproxy.ssh._command import remote_command

from ..conftest import Testbed, lines
from ..ssh.conftest import TESTBED_SYSTEM, StartPool
from ..ssh.conftest import testbed_cluster as cluster_of  # (not "test*": pytest would collect it)

pytestmark = pytest.mark.testbed

USER = "fireuser"
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


@attrs.define
class GoneFromSlurmctld:
    """A lease on which squeue lists nothing, as after MinJobAge; other commands run for real."""

    lease: Lease
    programs: list[str] = attrs.Factory(list)

    async def run(self, argv: Sequence[str], **options: Any) -> CommandResult:
        program = next(a for a in argv if a in {"squeue", "sacct", "sbatch"})
        self.programs.append(program)
        if program == "squeue":
            return CommandResult(tuple(argv), 0, None, b"", b"")
        return await self.lease.run(argv, **options)


@pytest.fixture
def job_comments_stored(testbed: Testbed) -> None:
    """Skips unless the running Slurm keeps job comments in accounting (AccountingStoreFlags=job_comment).

    The testbed is shared: a run of an older tests/testbed/up may have restarted Slurm without the flag.
    """
    config = testbed.ssh(USER, "scontrol show config")
    flags = re.search(r"^AccountingStoreFlags\s*=\s*(.*)$", config.stdout, re.MULTILINE)
    if flags is None or "job_comment" not in flags.group(1):
        pytest.skip("the running Slurm does not store job comments in accounting: run tests/testbed/up")


@pytest.mark.usefixtures("job_comments_stored")
async def test_idempotency_key_finds_a_finished_job_in_accounting(testbed: Testbed, testbed_pool: StartPool) -> None:
    cluster = cluster_of(testbed)
    pool = await testbed_pool()
    key = str(uuid.uuid4())
    spec = JobSpec(working_directory=f"/home/{USER}", script="#!/bin/bash\ntrue\n", name="f7t-idem-sacct",
                   standard_output="/dev/null")  # fmt: skip
    with trio.fail_after(240):  # the one-node testbed may be busy with other tests' jobs
        async with pool.lease(TESTBED_SYSTEM, USER) as lease:
            first = await JobService(cluster, SlurmBackend(cluster)).submit(lease, USER, spec, key)
            # Until accounting alone shows the job finished (slurmdbd gets its comment when it starts).
            retry = GoneFromSlurmctld(lease)
            query = JobQuery(user=USER, job_ids=(first.job_id,))
            while not any(j.status.state in FINISHED for j in await SlurmBackend(cluster).get_jobs(retry, query)):
                await trio.sleep(0.5)
            retry.programs.clear()
            # Another process (no memory of the key), after slurmctld forgot the job.
            again = await JobService(cluster, SlurmBackend(cluster)).submit(retry, USER, spec, key)
    assert not first.replayed and again == attrs.evolve(first, replayed=True)
    assert retry.programs == ["squeue", "sacct"]  # found in accounting, not submitted again


async def test_userinfo_in_one_remote_command(testbed: Testbed, testbed_pool: StartPool) -> None:
    cluster = cluster_of(testbed)
    pool = await testbed_pool()
    with trio.fail_after(60):
        async with pool.lease(TESTBED_SYSTEM, USER) as lease:
            info = await SlurmBackend(cluster).userinfo(lease, USER)
    assert info.user.name == USER and USER in [g.name for g in info.groups]
    assert [(a.name, a.default) for a in info.accounts or []] == [("proj1", True), ("proj2", False)]
    stats = pool.statistics().user(TESTBED_SYSTEM, USER)
    assert stats is not None and stats.commands == 1


@attrs.define
class Recording:
    """A lease that remembers every command line it was given, as sent to sshd."""

    lease: Lease
    sent: list[str] = attrs.Factory(list)

    async def run(self, argv: Sequence[str], **options: Any) -> CommandResult:
        self.sent.append(remote_command(argv, timeout=options.get("timeout")))
        return await self.lease.run(argv, **options)


async def test_a_job_env_value_reaches_the_job_but_no_argument_list_nor_the_audit_log(
    testbed: Testbed, testbed_pool: StartPool, log_files: tuple[pathlib.Path, pathlib.Path]
) -> None:
    _, audit_file = log_files
    cluster = cluster_of(testbed)
    pool = await testbed_pool()
    secret = f"tok-{secrets.token_hex(16)}"
    output = f"/home/{USER}/f7t-env-{uuid.uuid4().hex}.out"
    spec = JobSpec(working_directory=f"/home/{USER}", name="f7t-env-secret", standard_output=output,
                   script='#!/bin/bash\nprintf "[%s]" "$F7T_SECRET"\n',
                   env={"F7T_SECRET": secret, "F7T_OTHER": "a,b\nc"})  # fmt: skip
    backend = SlurmBackend(cluster)
    with trio.fail_after(240):  # the one-node testbed may be busy with other tests' jobs
        async with pool.lease(TESTBED_SYSTEM, USER) as lease:
            run = Recording(lease)
            job_id = await backend.submit(run, spec)
            try:
                query = JobQuery(user=USER, job_ids=(job_id,))
                while not any(j.status.state in FINISHED for j in await backend.get_jobs(run, query)):
                    await trio.sleep(0.5)
                seen = await lease.run(["cat", "--", output])
            finally:
                await lease.run(["scancel", job_id])
                await lease.run(["rm", "-f", "--", output])
    assert seen.stdout == f"[{secret}]"  # the job has it
    assert run.sent and not any(secret in line for line in run.sent)  # no command line sent held it
    audit = lines(audit_file)
    assert secret not in audit_file.read_text()
    submit = next(line for line in audit if line["action"] == "sbatch")
    assert "F7T_SECRET" in submit["command"]  # the name is recorded, the value is not
    assert {line["action"] for line in audit} >= {"sbatch", "squeue", "cat", "scancel"}
