"""Reading scheduler command output: unforgeable field separators, numbers, times, `id`;
several independent commands run as one.

Job names, paths and comments are free text: a user can put `|`, quotes, tabs
or newlines in them. So list commands are run with a separator made fresh
for each call (a control character and random hex), which no job submitted
before the call can contain, and records are cut by counting fields, never
by splitting lines.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence

from ._models import PosixIdentified, UserInfo

log = logging.getLogger(__name__)


def new_separator() -> str:
    """A field separator no earlier job's text can contain: US (0x1f) and 64 random bits."""
    return f"\x1f{secrets.token_hex(8)}\x1f"


def split_fields(text: str, sep: str, nfields: int) -> list[list[str]]:
    """Records of `nfields` fields from output where every field ends with `sep`.

    That is squeue's `--Format=F1:SEP,F2:SEP,...` layout: each record is
    `F1 SEP F2 SEP ... Fn SEP` and a newline. Fields may contain newlines.
    Raises ValueError if the output does not divide into whole records.
    """
    tokens = text.split(sep)
    tail = tokens.pop()
    if tail.strip():
        raise ValueError(f"trailing text after the last record: {tail[:80]!r}")
    if len(tokens) % nfields:
        raise ValueError(f"{len(tokens)} fields do not make records of {nfields}")
    records = []
    for i in range(0, len(tokens), nfields):
        record = tokens[i : i + nfields]
        if i:
            # the newline that ended the previous record
            record[0] = record[0].removeprefix("\n")
        records.append(record)
    return records


def split_joined(text: str, sep: str, nfields: int) -> list[list[str]]:
    """Records of `nfields` fields from output where fields are joined by `sep`.

    That is `sacct --parsable2 --delimiter=SEP`: `F1 SEP ... SEP Fn` and a
    newline. The last field must never contain a newline (use a job id), so
    the text between two records splits at its first newline.
    Raises ValueError if the output does not divide into whole records.
    """
    if not text.strip():
        return []
    tokens = text.removesuffix("\n").split(sep)
    records: list[list[str]] = []
    current: list[str] = []
    for token in tokens:
        if len(current) == nfields - 1:
            last, newline, first = token.partition("\n")
            current.append(last)
            records.append(current)
            current = [first] if newline else []
        else:
            current.append(token)
    if current:
        raise ValueError(f"the last record has {len(current)} of {nfields} fields")
    return records


SEVERAL = (
    'sep=$1; shift; while [ "$#" -gt 0 ]; do n=$1; shift; "${@:1:n}" </dev/null; s=$?; shift "$n"; '
    'printf "%s%d%s" "$sep" "$s" "$sep"; done'
)
"""Fixed shell text (commands arrive only as "$@"): run each group `COUNT WORD...` in turn,
each one's output followed by SEP, its exit status and SEP."""


def several(commands: Sequence[Sequence[str]], sep: str) -> list[str]:
    """One remote command that runs independent `commands` one after the other (one sshd session
    instead of one each); read its output with `split_several`. Standard error is shared."""
    argv = ["bash", "-c", SEVERAL, "f7t-several", sep]
    for words in commands:
        argv += [str(len(words)), *words]
    return argv


def split_several(text: str, sep: str, count: int) -> list[tuple[int, str]]:
    """(exit status, output) of each of the `count` commands of `several`, in order.

    Raises ValueError if the output is not that many framed parts.
    """
    tokens = text.split(sep)
    tail = tokens.pop()
    if tail.strip() or len(tokens) != 2 * count:
        raise ValueError(f"expected {count} framed outputs, got {len(tokens) / 2:g} and {tail[:80]!r}")
    try:
        return [(int(tokens[2 * i + 1]), tokens[2 * i]) for i in range(count)]
    except ValueError:
        raise ValueError(f"unreadable exit statuses in {tokens[1::2][:count]!r}") from None


_NONE_WORDS = {"", "n/a", "none", "unknown", "(null)", "unlimited", "infinite", "invalid", "not_set", "partition_limit"}


def to_int(value: str, *, field: str = "?") -> int | None:
    """An integer, or None for empty/N/A/Unknown/UNLIMITED and (logged) anything unexpected."""
    value = value.strip()
    if value.lower() in _NONE_WORDS:
        return None
    try:
        return int(value)
    except ValueError:
        log.warning("scheduler field %s: expected an integer, got %r", field, value[:80])
        return None


def to_float(value: str, *, field: str = "?") -> float | None:
    """A number, or None (logged if unexpected)."""
    value = value.strip()
    if value.lower() in _NONE_WORDS:
        return None
    try:
        return float(value)
    except ValueError:
        log.warning("scheduler field %s: expected a number, got %r", field, value[:80])
        return None


_DURATION = re.compile(r"(?:(?P<d>[0-9]+)-)?(?:(?:(?P<h>[0-9]+):)?(?P<m>[0-9]+):)?(?P<s>[0-9]+)(?:\.[0-9]+)?")


def duration(value: str, *, field: str = "?") -> int | None:
    """Seconds from Slurm/PBS durations: `[D-][[HH:]MM:]SS`; None for UNLIMITED, N/A and the like."""
    value = value.strip()
    if value.lower() in _NONE_WORDS:
        return None
    m = _DURATION.fullmatch(value)
    if m is None:
        log.warning("scheduler field %s: expected a duration, got %r", field, value[:80])
        return None
    d, h, mi, s = (int(m.group(k) or 0) for k in ("d", "h", "m", "s"))
    return ((d * 24 + h) * 60 + mi) * 60 + s


def text_or_none(value: str) -> str | None:
    """The value, or None for the words schedulers print for "nothing"."""
    return None if value.strip().lower() in _NONE_WORDS else value


_ID_PART = re.compile(r"([0-9]+)\(([^)]*)\)")


def id_command() -> list[str]:
    """`id` of the logged-in user: uid, primary group and groups with names."""
    return ["id"]


def parse_id(text: str) -> UserInfo:
    """Parse `uid=1001(fireuser) gid=1001(fireuser) groups=1001(fireuser),27(sudo)`.

    Raises ValueError if the uid or gid is missing.
    """
    # Group names may hold spaces (directory services): read `N(name)` pieces, not words.
    user = re.search(r"\buid=" + _ID_PART.pattern, text)
    group = re.search(r"\bgid=" + _ID_PART.pattern, text)
    if user is None or group is None:
        raise ValueError(f"unexpected `id` output: {text[:200]!r}")
    _, _, listed = text.partition("groups=")
    groups = [PosixIdentified(id=i, name=n) for i, n in _ID_PART.findall(listed)]
    return UserInfo(
        user=PosixIdentified(id=user.group(1), name=user.group(2)),
        group=PosixIdentified(id=group.group(1), name=group.group(2)),
        groups=groups,
    )
