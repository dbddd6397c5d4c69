"""A job's environment travels to the submit command on its stdin, never in its argument list.

Any user of the login node can read a process's argument list (`ps`), and the
audit log records it, so the values of a job's `env` (tokens, passwords) must
be in neither. The submit command's arguments carry the variable names only;
the values come first on its stdin, each ended by a NUL, before the inline
script. The shell prologue `READ_ENV` reads them with bash builtins (which
start no process) into the array `_f7t_envs` of ``NAME=value`` words; the
scheduler's command then reads the rest of stdin (the script) untouched, as
bash reads a pipe byte by byte.

A wrapper's `$0` names the program it runs, so the audit log can name it.
"""

from __future__ import annotations

from collections.abc import Mapping

READ_ENV = (
    '_f7t_n=$1; shift; _f7t_envs=(); for ((_f7t_i = 0; _f7t_i < _f7t_n; _f7t_i++)); do '
    'IFS= read -r -d "" _f7t_v || { echo "$0: job environment missing on stdin" >&2; exit 97; }; '
    '_f7t_envs+=("$1=$_f7t_v"); shift; done; '
)
"""Fixed shell text: "$1" is the number of variables, their names follow; leaves "$@" at
the word after the last name, and the ``NAME=value`` words in the array `_f7t_envs`.
Values are read from stdin, NUL-terminated, in the same order. Every shell variable it
sets starts with `_f7t_`, so job variables of ordinary names can be exported unharmed."""


def env_words(env: Mapping[str, str], script: str | None) -> tuple[list[str], str | None]:
    """The arguments for `READ_ENV` (count, names) and the command's stdin (values, then `script`).

    Raises ValueError if a value holds a NUL (no environment can carry one).
    """
    if any("\0" in value for value in env.values()):
        raise ValueError("an environment variable's value holds a NUL character")
    values = "".join(f"{value}\0" for value in env.values())
    stdin = values + (script or "") if env or script is not None else None
    return [str(len(env)), *env], stdin
