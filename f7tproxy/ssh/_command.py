"""Remote command lines, built from argument lists and never by pasting strings."""

from __future__ import annotations

import math
import posixpath
import shlex
from collections.abc import Sequence

KILL_AFTER = 2
"""Seconds the remote `timeout` waits after TERM before it sends KILL."""
REMOTE_MARGIN = 2
"""The remote `timeout` fires this long after our own deadline: ours should come first."""


def remote_command(argv: Sequence[str], *, timeout: float | None) -> str:
    """The shell command line that runs `argv`, every word quoted.

    With a `timeout`, the command runs under coreutils' `timeout`, so that it
    ends even if we could not stop it. `exec` makes the command (or `timeout`)
    the session's process-group leader, so the TERM/KILL we send over the
    channel (sshd delivers it with killpg) reaches every process it started.

    Raises ValueError for an empty argument list.
    """
    if not argv:
        raise ValueError("empty command")
    words = shlex.join(argv)
    seconds = remote_deadline(timeout)
    if seconds is None:
        return f"exec {words}"
    return f"exec timeout --kill-after={KILL_AFTER}s {seconds}s {words}"


def remote_deadline(timeout: float | None) -> int | None:
    """The remote deadline of a command with our `timeout`: whole seconds, REMOTE_MARGIN after ours.

    The remote `timeout` of `remote_command`, or the runner's own deadline (None: none).
    """
    return None if timeout is None else math.ceil(timeout) + REMOTE_MARGIN


_OPTIONS_WITH_VALUE = {
    "env": {"-u", "--unset", "-C", "--chdir", "-S", "--split-string"},
    "timeout": {"-k", "--kill-after", "-s", "--signal"},
}


def program_name(argv: Sequence[str]) -> str:
    """The program `argv` runs, seen through the wrappers f7tproxy puts around it.

    `env [OPTION]... [NAME=VALUE]...` and `timeout [OPTION]... DURATION` are
    skipped; `bash -c SCRIPT NAME ...` (or `sh -c`) is named by its `$0`, NAME:
    our wrappers set it to the program they run. Otherwise the base name of
    the first word. An empty `argv` has no name ("").
    """
    words = list(argv)
    while words:
        name, rest = posixpath.basename(words[0]), words[1:]
        if name in _OPTIONS_WITH_VALUE:
            rest = _skip_options(rest, _OPTIONS_WITH_VALUE[name])
            if name == "env":
                while rest and "=" in rest[0]:
                    rest = rest[1:]
            else:
                rest = rest[1:]  # the duration
        elif name in ("bash", "sh") and len(rest) >= 3 and rest[0] == "-c":
            rest = rest[2:]
        else:
            return name
        words = rest
    return ""


def _skip_options(words: list[str], with_value: set[str]) -> list[str]:
    while words and words[0].startswith("-"):
        if words[0] == "--":
            return words[1:]
        words = words[2:] if words[0] in with_value else words[1:]
    return words
