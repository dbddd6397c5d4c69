"""Remote command lines, built from argument lists and never by pasting strings."""

from __future__ import annotations

import math
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
    if timeout is None:
        return f"exec {words}"
    seconds = math.ceil(timeout) + REMOTE_MARGIN
    return f"exec timeout --kill-after={KILL_AFTER}s {seconds}s {words}"
