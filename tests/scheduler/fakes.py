"""A Runner that answers from a script of recorded outputs, and remembers what it was asked."""

from __future__ import annotations

import pathlib
import subprocess
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


FAKE_PROGRAM = """#!/bin/bash
# Records what it was given: its arguments, the file of --export-file=FD, its stdin.
printf '%s\\0' "$@" > "$OUT/argv"
for a; do case $a in --export-file=*) cat <&"${a#--export-file=}" > "$OUT/export";; esac; done
env -0 > "$OUT/environ"; pwd > "$OUT/pwd"; cat > "$OUT/stdin"
"""


def run_with_fake(tmp_path: pathlib.Path, program: str, argv: list[str], stdin: str | None) -> dict[str, str]:
    """Run a submit command line locally, with a fake `program` that records what it got."""
    bin_dir, out = tmp_path / "bin", tmp_path / "out"
    bin_dir.mkdir()
    out.mkdir()
    (bin_dir / program).write_text(FAKE_PROGRAM)
    (bin_dir / program).chmod(0o755)
    subprocess.run(argv, input=(stdin or "").encode(), check=True, timeout=10,
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin", "OUT": str(out), "LOGIN_VAR": "kept"})  # fmt: skip
    return {f.name: f.read_text() for f in out.iterdir()}
