"""A Runner that answers from a script of recorded outputs, and remembers what it was asked."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence

import attrs

from f7tproxy.config import ClusterConfig, SchedulerConfig, SshConfig, StaticKeysCredentials
from f7tproxy.ssh import CommandResult

Answer = tuple[int, str, str]  # exit status, stdout, stderr


@attrs.define
class FakeRunner:
    """Answers each command with the first rule whose program (argv[0] after wrappers) matches."""

    rules: dict[str, Answer | Callable[[Sequence[str], str | None], Answer]]
    calls: list[tuple[tuple[str, ...], str | None]] = attrs.Factory(list)

    async def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | str | None = None,
        timeout: float | None = None,
        output_limit: int | None = None,
    ) -> CommandResult:
        text = stdin.decode() if isinstance(stdin, bytes) else stdin
        self.calls.append((tuple(argv), text))
        program = next(a for a in argv if a in self.rules)
        rule = self.rules[program]
        status, out, err = rule(argv, text) if callable(rule) else rule
        return CommandResult(tuple(argv), status, None, out.encode(), err.encode())

    def programs(self) -> list[str]:
        return [next(a for a in argv if a in self.rules) for argv, _ in self.calls]


def cluster(kind: str = "slurm", name: str = "c1") -> ClusterConfig:
    """A cluster configuration for backends that never connect."""
    ssh = SshConfig(host="h", known_hosts=pathlib.Path("/dev/null"), credentials=StaticKeysCredentials("static_keys"))
    return ClusterConfig(name=name, ssh=ssh, scheduler=SchedulerConfig(type=kind))  # type: ignore[arg-type]
