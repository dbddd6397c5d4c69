"""Slurm command output to values. Pure functions: tested on recorded output.

Unexpected values are logged and become None; they never fail a request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import attrs

from .._models import FINISHED_STATES, Account, Job, JobMetadata, JobStatus, JobTime, Node, Partition, Reservation
from .._text import duration, split_fields, split_joined, text_or_none, to_float, to_int

log = logging.getLogger(__name__)

Row = dict[str, str]

# Slurm's full state words; anything else (a newer Slurm's word) is passed through, logged.
JOB_STATES = {
    "BOOT_FAIL", "CANCELLED", "COMPLETED", "COMPLETING", "CONFIGURING", "DEADLINE", "FAILED",
    "NODE_FAIL", "OUT_OF_MEMORY", "PENDING", "PREEMPTED", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD",
    "RESIZING", "RESV_DEL_HOLD", "REVOKED", "RUNNING", "SIGNALING", "SPECIAL_EXIT", "STAGE_OUT",
    "STOPPED", "SUSPENDED", "TIMEOUT",
}  # fmt: skip


def rows(records: list[list[str]], keys: Sequence[str]) -> list[Row]:
    return [dict(zip(keys, record, strict=True)) for record in records]


def squeue_rows(text: str, sep: str, keys: Sequence[str]) -> list[Row]:
    """Rows of `squeue --Format=...:SEP` output. Raises ValueError on a torn record."""
    return rows(split_fields(text, sep, len(keys)), keys)


def sacct_rows(text: str, sep: str, keys: Sequence[str]) -> list[Row]:
    """Rows of `sacct --parsable2 --delimiter=SEP` output. Raises ValueError on a torn record."""
    return rows(split_joined(text, sep, len(keys)), keys)


def newest(history: Sequence[Row]) -> list[Row]:
    """One sacct row per job id, the last submitted.

    Job ids start again when a cluster's state is reset, and sacct keeps the old
    jobs: asked for an id, it answers with every job that ever had it.
    """
    best: dict[str, Row] = {}
    for row in history:
        old = best.get(row["job_id"])
        if old is None or (to_int(row.get("submit", ""), field="Submit") or 0) >= (
            to_int(old.get("submit", ""), field="Submit") or 0
        ):
            best[row["job_id"]] = row
    return list(best.values())


def live_state(word: str) -> str:
    """A job state word that never reads as finished to pyfirecrest.

    pyfirecrest's `wait_for_job` takes any state containing "F" as PBS's
    "finished", so a live CONFIGURING job would count as done; report it as
    PENDING (it has not started yet). "CANCELLED by 1001" keeps its first word.
    """
    state = word.split(" ", 1)[0].strip().upper() or "UNKNOWN"
    base = state.rstrip("+")
    if base not in JOB_STATES:
        log.warning("Slurm job state %r is not one this version knows", word[:60])
    if base == "CONFIGURING":
        return "PENDING"
    if base not in FINISHED_STATES and "F" in base:
        return "PENDING"  # REQUEUE_FED and any newer live word with an F
    return base


def _exit(value: str) -> tuple[int | None, int | None]:
    code, _, signal = value.partition(":")
    return to_int(code, field="ExitCode"), to_int(signal, field="ExitCode") if signal else None


def job_from_row(row: Row, *, default_cluster: str) -> Job:
    """A Job from one squeue or sacct row (keys of SQUEUE_FIELDS / SACCT_FIELDS)."""
    exit_code, signal = _exit(row["exit_code"]) if "exit_code" in row else (None, None)
    # sacct gives ElapsedRaw seconds and TimelimitRaw minutes; squeue gives durations.
    if "exit_code" in row:
        elapsed = to_int(row.get("elapsed", ""), field="ElapsedRaw")
        limit_minutes = to_int(row.get("limit", ""), field="TimelimitRaw")
        limit = None if limit_minutes is None else limit_minutes * 60
    else:
        elapsed = duration(row.get("elapsed", ""), field="TimeUsed")
        limit = duration(row.get("limit", ""), field="TimeLimit")
    state = live_state(row.get("state", ""))
    reason = text_or_none(row.get("reason", ""))
    return Job(
        job_id=row["job_id"].strip(),
        name=row.get("name", ""),
        status=JobStatus(
            state=state,
            state_reason=reason,
            exit_code=exit_code,
            interrupt_signal=signal or None,
        ),
        time=JobTime(
            elapsed=elapsed,
            start=_epoch(row.get("start", "")),
            end=_epoch(row.get("end", "")),
            suspended=duration(row.get("suspended", ""), field="Suspended") if "suspended" in row else None,
            limit=limit,
        ),
        allocation_nodes=to_int(row.get("allocation_nodes", ""), field="nodes") or 0,
        cluster=text_or_none(row.get("cluster", "")) or default_cluster,
        nodes=text_or_none(row.get("nodes", "")) or "",
        partition=row.get("partition", ""),
        user=text_or_none(row.get("user", "")),
        working_directory=row.get("working_directory", ""),
        account=text_or_none(row.get("account", "")),
        group=text_or_none(row.get("group", "")),
        priority=to_int(row.get("priority", ""), field="Priority"),
    )


def _epoch(value: str) -> int | None:
    value = value.strip()
    # 0 and "Unknown" both mean "not yet"; other forms than epoch seconds are logged.
    if not value or value.lower() in {"unknown", "none", "n/a", "0"}:
        return None
    return to_int(value, field="time")


def merge(live: Sequence[Job], history: Sequence[Job]) -> list[Job]:
    """One job per id: squeue's view while slurmctld runs the job, sacct's once it has ended.

    sacct lags slurmctld (slurmdbd is written asynchronously) and rewrites `"`
    in names; squeue has no exit code. So: a live squeue state wins; a finished
    job keeps squeue's description and takes its ending from sacct.
    """
    by_id: dict[str, Job] = {j.job_id: j for j in history}
    for job in live:
        old = by_id.get(job.job_id)
        if old is not None and old.user != job.user:
            old = None  # an older job that had the same id (ids restart after a state reset)
        if old is None or job.status.state not in FINISHED_STATES:
            by_id[job.job_id] = job if old is None else _with_history(job, old)
        else:
            by_id[job.job_id] = _ended(job, old)
    return sorted(by_id.values(), key=_sort_key)


def _with_history(live: Job, old: Job) -> Job:
    return attrs.evolve(live, cluster=old.cluster or live.cluster)


def _ended(live: Job, old: Job) -> Job:
    # squeue still holds the job's description (sacct's can be partial, e.g. after a
    # slurmctld restart); sacct has how it ended (exit code, times).
    return attrs.evolve(
        live,
        status=old.status,
        time=attrs.evolve(old.time, limit=live.time.limit if live.time.limit is not None else old.time.limit),
        nodes=old.nodes or live.nodes,
        allocation_nodes=old.allocation_nodes or live.allocation_nodes,
    )


def _sort_key(job: Job) -> tuple[int, str]:
    head = job.job_id.split("_", 1)[0]
    return (int(head) if head.isascii() and head.isdigit() else 0, job.job_id)


def submitted_id(stdout: str) -> str | None:
    """The job id from `sbatch --parsable` (`ID` or `ID;cluster`)."""
    first = stdout.strip().splitlines()[-1:] or [""]
    head = first[0].split(";", 1)[0].strip()
    return head if re.fullmatch(r"[0-9]+", head) else None


QUOTA = re.compile(r"\b(QOS|Assoc)(Max|Min)\w*Limit\b|Invalid account|Invalid qos|association")
"""sbatch errors that mean "not allowed" (FirecREST's SlurmQuotaError is 403)."""


_PATTERN = re.compile(r"%(%|[0-9]*[jJuxAa])")


def expand(path: str | None, row: Row) -> str | None:
    """A file name pattern (`%j`, `%x`, `%u`, `%A`, `%a`, `%%`) with the job's values, as Slurm names the file."""
    if path is None:
        return None
    job_id = row.get("job_id", "").strip()
    array, _, task = job_id.partition("_")
    values = {"j": job_id, "J": job_id, "u": row.get("user", ""), "x": row.get("name", ""),
              "A": array, "a": task or "4294967294", "%": "%"}  # fmt: skip

    def one(m: re.Match[str]) -> str:
        spec = m.group(1)
        if spec == "%":
            return "%"
        width, kind = spec[:-1], spec[-1]
        value = values[kind]
        return value.zfill(int(width)) if width and value.isdigit() else value

    return _PATTERN.sub(one, path)


def metadata(job_id: str, row: Row | None, script: str | None) -> JobMetadata:
    """Metadata from the squeue row: StdIn/StdOut/StdErr with Slurm's file name patterns expanded."""
    if row is None:
        return JobMetadata(job_id=job_id, script=script)
    return JobMetadata(
        job_id=job_id,
        script=script,
        standard_input=expand(text_or_none(row.get("standard_input", "")), row),
        standard_output=expand(text_or_none(row.get("standard_output", "")), row),
        standard_error=expand(text_or_none(row.get("standard_error", "")), row),
    )


def marked(text: str, sep: str, marker: str) -> str | None:
    """The id of the job whose comment is `marker`, from `squeue_marked` output."""
    for job_id, comment in split_fields(text, sep, 2):
        if comment == marker:
            return job_id.strip()
    return None


# --------------------------------------------------------------------------- status

_NODE_STATES = {
    "IDLE": "IDLE", "ALLOCATED": "ALLOCATED", "ALLOC": "ALLOCATED", "MIXED": "MIXED", "MIX": "MIXED",
    "DOWN": "DOWN", "DRAIN": "DRAIN", "DRAINED": "DRAIN", "DRAINING": "DRAIN", "DRNG": "DRAIN",
    "FAIL": "DOWN", "FAILING": "DOWN", "FUTURE": "UNKNOWN", "MAINT": "RESERVED", "RESERVED": "RESERVED",
    "RESV": "RESERVED", "COMPLETING": "COMPLETING", "COMP": "COMPLETING", "PLANNED": "IDLE",
    "POWERING_DOWN": "POWERING_DOWN", "POWERED_DOWN": "POWERING_DOWN", "POWER_DOWN": "POWERING_DOWN",
    "POWERING_UP": "POWERING_UP", "REBOOT": "POWERING_UP", "BUSY": "BUSY", "UNKNOWN": "UNKNOWN",
    "NOT_RESPONDING": "DOWN", "INVALID_REG": "DOWN", "UNK": "UNKNOWN", "INVAL": "DOWN", "BLOCKED": "BUSY",
    "CLOUD": "UNKNOWN", "PERFCTRS": "BUSY", "NPC": "BUSY", "REBOOT_REQUESTED": "IDLE", "REBOOT_ISSUED": "POWERING_UP",
}  # fmt: skip


def node_states(word: str) -> list[str]:
    """Slurm's `idle`, `mixed+drain`, `down*`, ... as FirecREST NodeState words."""
    out: list[str] = []
    for part in re.split(r"[+]", word.strip().upper()):
        part = part.rstrip("*~#!%$@^-")
        if not part:
            continue
        mapped = _NODE_STATES.get(part)
        if mapped is None:
            log.warning("Slurm node state %r is not one this version knows", part[:40])
            mapped = "UNKNOWN"
        if mapped not in out:
            out.append(mapped)
    return out or ["UNKNOWN"]


def nodes(text: str, sep: str, keys: Sequence[str]) -> list[Node]:
    """Nodes from `sinfo --Node` (one line per node and partition), merged by name."""
    merged: dict[str, Node] = {}
    for row in squeue_rows(text, sep, keys):
        name = row["name"].strip()
        partition = row.get("partition", "").strip()
        if name in merged:
            old = merged[name]
            parts = list(old.partitions or [])
            if partition and partition not in parts:
                parts.append(partition)
            merged[name] = attrs.evolve(old, partitions=parts)
            continue
        sockets = cores = threads = None
        sct = row.get("sockets_cores_threads", "").split(":")
        if len(sct) == 3:
            sockets, cores, threads = (to_int(x, field="%z") for x in sct)
        alloc = idle = None
        cpus_state = row.get("cpus_state", "").split("/")
        if len(cpus_state) == 4:
            alloc, idle = to_int(cpus_state[0], field="%C"), to_int(cpus_state[1], field="%C")
        features = text_or_none(row.get("features", ""))
        free = to_int(row.get("free_memory", ""), field="%e")
        merged[name] = Node(
            name=name,
            cpus=to_int(row.get("cpus", ""), field="%c") or 0,
            state=node_states(row.get("state", "")),  # type: ignore[arg-type]
            sockets=sockets,
            cores=cores,
            threads=threads,
            cpu_load=to_float(row.get("cpu_load", ""), field="%O"),
            free_memory=free,
            features=features.split(",") if features else None,
            address=text_or_none(row.get("address", "")),
            hostname=text_or_none(row.get("hostname", "")),
            partitions=[partition] if partition else [],
            weight=to_int(row.get("weight", ""), field="%w"),
                        alloc_cpus=alloc,
            idle_cpus=idle,
        )
    return list(merged.values())


_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")


def key_values(line: str) -> dict[str, str]:
    """`scontrol --oneliner` output as a dict. A value runs up to the next ` Key=` (values may hold spaces)."""
    out: dict[str, str] = {}
    matches = list(_KEY.finditer(line))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        out[m.group(1)] = line[m.end() : end].strip()
    return out


def partitions(text: str) -> list[Partition]:
    """Partitions from `scontrol --all --oneliner show partitions` (hidden ones too, as asked with --all)."""
    out = []
    for line in text.splitlines():
        kv = key_values(line)
        if "PartitionName" not in kv:
            continue
        out.append(
            Partition(
                name=kv["PartitionName"],
                partition=kv.get("State", "UNKNOWN"),
                cpus=to_int(kv.get("TotalCPUs", ""), field="TotalCPUs"),
                total_nodes=to_int(kv.get("TotalNodes", ""), field="TotalNodes"),
                hidden=kv.get("Hidden", "NO").upper() == "YES",
            )
        )
    return out


def reservations(text: str, *, now: float) -> list[Reservation]:
    """Reservations from `SLURM_TIME_FORMAT=%s scontrol --all --oneliner show reservations`."""
    out = []
    for line in text.splitlines():
        kv = key_values(line)
        if "ReservationName" not in kv:
            continue  # "No reservations in the system"
        start = to_int(kv.get("StartTime", ""), field="StartTime") or 0
        end = to_int(kv.get("EndTime", ""), field="EndTime") or 0
        state = text_or_none(kv.get("State", ""))
        if state is None:
            state = "ACTIVE" if start <= now < end else "INACTIVE"
        out.append(
            Reservation(
                name=kv["ReservationName"],
                node_list=text_or_none(kv.get("Nodes", "")) or "",
                start_time=start,
                end_time=end,
                features=text_or_none(kv.get("Features", "")),
                state=state,
            )
        )
    return out


def accounts(text: str, cluster: str | None = None) -> list[Account]:
    """Accounts from `sacctmgr show user U withassoc format=defaultaccount,cluster,account`."""
    default: str | None = None
    names: list[str] = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 3:
            continue
        default = default or parts[0] or None
        if not parts[2] or (cluster and parts[1] and parts[1] != cluster):
            continue
        if parts[2] not in names:
            names.append(parts[2])
    return [Account(name=n, default=n == default) for n in sorted(names)]
