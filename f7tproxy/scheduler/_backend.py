"""The interface every scheduler backend implements (Slurm, PBS).

A backend turns requests into command lines and command output into values;
it holds no connection. Each call gets a `Runner` (`f7tproxy.ssh`: an SSH pool lease) on
which it runs its commands, one after the other, as the calling user.
Sibling backends keep the same module names and this method order.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Sequence

import attrs

from ..errors import InternalError, NotFound, ValidationFailed
from ..ssh import CommandResult, Runner
from ._models import Account, Job, JobMetadata, JobQuery, JobSpec, Node, Partition, Reservation, UserInfo
from ._text import id_command, parse_id


class SchedulerBackend(abc.ABC):
    """One scheduler's command line, driven over SSH.

    Every method may raise the pool's errors (CommandTimeout, OutputTooLarge,
    SshConnectionLost, ...) and InternalError for output it cannot read.
    """

    kind: str
    """`slurm` or `pbs`."""
    job_id_pattern: re.Pattern[str]
    """What a job id of this scheduler looks like (matched whole, ASCII digits only)."""
    option_policy: Callable[[str], list[str] | str]
    """One extra option (as written after the directive prefix) to its command-line
    words, or the reason it is refused (`check_options`)."""

    def check_job_id(self, job_id: str) -> str:
        """`job_id` if it is a job id of this scheduler. Raises NotFound ("Job not found.") otherwise."""
        if not self.job_id_pattern.fullmatch(job_id):
            raise NotFound("Job not found.")
        return job_id

    def check_options(self, options: Sequence[str]) -> tuple[str, ...]:
        """Extra scheduler options, validated against the policy (never another user or account).

        Raises ValidationFailed naming each refused option.
        """
        words: list[str] = []
        problems: list[dict[str, str]] = []
        for i, option in enumerate(options):
            verdict = type(self).option_policy(option)
            if isinstance(verdict, str):
                problems.append({"location": "body", "name": f"job.schedulerOptions[{i}]", "message": verdict})
            else:
                words += verdict
        if problems:
            raise ValidationFailed("Invalid scheduler options", data={"fields": problems})
        return tuple(words)

    @abc.abstractmethod
    async def submit(self, run: Runner, spec: JobSpec) -> str:
        """Submit `spec`; return the new job's id.

        Never retried: a submit that may have reached the scheduler raises.
        Raises Forbidden (quota, association), BadRequest (the scheduler refused
        the description) or InternalError.
        """

    @abc.abstractmethod
    async def find_marked(self, run: Runner, user: str, marker: str) -> str | None:
        """The id of `user`'s job carrying idempotency `marker`, if the scheduler still knows it."""

    @abc.abstractmethod
    async def get_jobs(self, run: Runner, query: JobQuery) -> list[Job]:
        """Jobs matching `query`: live ones always, finished ones within its time window."""

    async def watch_jobs(self, run: Runner, user: str, job_ids: Sequence[str]) -> list[Job]:
        """The jobs among `job_ids` the scheduler knows (any user's `user` may see), in as few
        commands as the scheduler allows: the job watchers' poll (`f7tproxy.events`).

        Backends that can do better than `get_jobs` (Slurm: sacct only for jobs that
        have ended) override it.
        """
        return await self.get_jobs(run, JobQuery(user=user, allusers=True, job_ids=tuple(job_ids)))

    @abc.abstractmethod
    async def get_job_metadata(self, run: Runner, job_id: str) -> list[JobMetadata]:
        """Script and standard streams of a job; empty if the job is unknown."""

    async def get_jobs_metadata(self, run: Runner, job_ids: Sequence[str]) -> dict[str, list[JobMetadata]]:
        """`get_job_metadata` of each of `job_ids` (every id answered; backends that can do it in
        fewer commands than one lookup each do)."""
        return {job_id: await self.get_job_metadata(run, job_id) for job_id in job_ids}

    @abc.abstractmethod
    async def cancel(self, run: Runner, job_id: str) -> None:
        """Cancel a job. Raises NotFound if it is unknown, Forbidden if not the user's."""

    @abc.abstractmethod
    async def attach(self, run: Runner, job_id: str, command: str) -> None:
        """Run the user's `command` inside the job's allocation (Slurm `srun --overlap`).

        Raises NotImplementedOnSystem where the scheduler cannot.
        """

    @abc.abstractmethod
    async def nodes(self, run: Runner) -> list[Node]:
        """The compute nodes."""

    @abc.abstractmethod
    async def partitions(self, run: Runner) -> list[Partition]:
        """The partitions (queues)."""

    @abc.abstractmethod
    async def reservations(self, run: Runner) -> list[Reservation]:
        """The advance reservations."""

    @abc.abstractmethod
    async def accounts(self, run: Runner, user: str) -> list[Account] | None:
        """Accounts `user` may charge, the default one flagged; None if the scheduler has none."""

    async def userinfo(self, run: Runner, user: str) -> UserInfo:
        """The logged-in `user`'s uid, groups and accounts (`id`, then `accounts`).

        Backends whose accounts take a remote command run both as one. Raises InternalError.
        """
        result = await run.run(id_command())
        info = read_id(result.exit_status, result.stdout, result.stderr)
        return attrs.evolve(info, accounts=await self.accounts(run, user))


def read_id(exit_status: int | None, stdout: str, stderr: str) -> UserInfo:
    """The user from `id`'s output. Raises InternalError if `id` failed or printed something else."""
    if exit_status != 0:
        raise InternalError(f"id failed: {stderr.strip()[:300]}")
    try:
        return parse_id(stdout)
    except ValueError as exc:
        raise InternalError(str(exc)) from None
