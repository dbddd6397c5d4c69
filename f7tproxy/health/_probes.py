"""The probes: one small check of one service, run as the cluster's service account.

Each probe returns a short message when the service is healthy and raises
ProbeFailed (or an ApiError from the SSH pool) when it is not. The checker
bounds every call with the probe's timeout; probes only pass it on to the
remote side (`lease.run(..., timeout=...)`), so a hung command is killed there too.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from ..config import ClusterConfig
from ..s3 import S3Client, S3Error
from ..ssh import CommandResult, PoolSupervisor
from ._result import Service


class ProbeFailed(Exception):
    """The service answered, but not as a healthy one; the text says how."""


class Probe(Protocol):
    """One check of one service (one path for a file system)."""

    @property
    def service(self) -> Service: ...

    @property
    def path(self) -> str | None: ...

    async def check(self, timeout: float) -> str:
        """Check the service; return a short message. Raises ProbeFailed or ApiError if unhealthy."""
        ...


def _output(result: CommandResult) -> str:
    text = (result.stdout.strip() + "\n" + result.stderr.strip()).strip()
    return " ".join(text.split())[:500]


def _failed(result: CommandResult) -> ProbeFailed:
    how = f"exit status {result.exit_status}" if result.exit_signal is None else f"signal {result.exit_signal}"
    out = _output(result)
    return ProbeFailed(f"{' '.join(result.argv)}: {how}" + (f": {out}" if out else ""))


@attrs.frozen
class _SshCommand:
    pool: PoolSupervisor
    system: str
    user: str

    async def run(self, argv: list[str], timeout: float) -> CommandResult:
        # probe=True: probes pass an open circuit breaker; they are how it sees the cluster return.
        async with self.pool.lease(self.system, self.user, probe=True) as lease:
            return await lease.run(argv, timeout=timeout)


@attrs.frozen
class CommandProbe:
    """Runs a command over SSH: healthy when it exits 0 and its output has no `down_marker`."""

    ssh: _SshCommand
    service: Service
    argv: tuple[str, ...]
    path: str | None = None
    down_marker: str | None = None
    report_output: bool = False
    """Return the command's output as the message (else "ok")."""

    async def check(self, timeout: float) -> str:
        result = await self.ssh.run(list(self.argv), timeout)
        if not result.ok or (self.down_marker is not None and self.down_marker in result.stdout):
            raise _failed(result)
        return (_output(result) if self.report_output else "") or "ok"


def ssh_probe(ssh: _SshCommand) -> CommandProbe:
    """`true`: a login and a command work."""
    return CommandProbe(ssh, "ssh", ("true",))


def slurm_ping_probe(ssh: _SshCommand) -> CommandProbe:
    """`scontrol ping`: healthy when it exits 0 and no controller is DOWN."""
    return CommandProbe(ssh, "scheduler", ("scontrol", "ping"), down_marker="DOWN", report_output=True)


def pbs_ping_probe(ssh: _SshCommand) -> CommandProbe:
    """`qstat -B`: the PBS server answers."""
    return CommandProbe(ssh, "scheduler", ("qstat", "-B"))


def filesystem_probe(ssh: _SshCommand, path: str) -> CommandProbe:
    """`ls -ld -- PATH`: the mount point answers (a hung mount hangs here, until the deadline)."""
    return CommandProbe(ssh, "filesystem", ("ls", "-ld", "--", path), path=path)


@attrs.frozen
class S3Probe:
    """S3 ListBuckets against the staging store."""

    client: S3Client
    service: Service = "s3"
    path: str | None = None

    async def check(self, timeout: float) -> str:
        try:
            buckets = await self.client.list_buckets()
        except S3Error as exc:
            raise ProbeFailed(str(exc)) from None
        return f"ok ({len(buckets)} buckets)"


def cluster_probes(cluster: ClusterConfig, pool: PoolSupervisor) -> list[Probe]:
    """The probes `cluster.probes` asks for.

    ssh, scheduler and filesystem probes need a `service_account`; without one
    they are skipped (and those services never gated). s3 needs `staging`.
    """
    services = cluster.probes.services
    probes: list[Probe] = []
    if cluster.service_account is not None:
        ssh = _SshCommand(pool, cluster.name, cluster.service_account)
        if "ssh" in services:
            probes.append(ssh_probe(ssh))
        if "scheduler" in services:
            probes.append(slurm_ping_probe(ssh) if cluster.scheduler.type == "slurm" else pbs_ping_probe(ssh))
        if "filesystem" in services:
            probes.extend(filesystem_probe(ssh, fs.path) for fs in cluster.file_systems)
    if "s3" in services and cluster.staging is not None:
        probes.append(S3Probe(S3Client(cluster.staging)))
    return probes
