"""PBS command output to values. Pure functions: tested on recorded output of real PBS servers.

Unexpected values are logged and become None; they never fail a request.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

from .._models import Job, JobMetadata, JobStatus, JobTime, Node, Partition, Reservation
from .._text import duration, to_int
from ._commands import MARKER_VARIABLE

log = logging.getLogger(__name__)

# PBS's one-letter states in Slurm's words (pyfirecrest waits on Slurm's words,
# and must never see an "F" in a live job's state).
_STATES = {
    "Q": "PENDING", "H": "PENDING", "W": "PENDING", "T": "PENDING", "M": "PENDING",
    "R": "RUNNING", "B": "RUNNING", "E": "COMPLETING", "S": "SUSPENDED", "U": "SUSPENDED",
    "X": "COMPLETED",
}  # fmt: skip
_REASONS = {"H": "held", "W": "waiting for its start time", "T": "in transit", "M": "moved"}


def document(text: str) -> dict[str, Any]:
    """A `-F json` document. Raises ValueError if it is not one."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def pbs_time(value: Any) -> int | None:
    """Epoch seconds from PBS's `Wed Mar 17 20:36:48 2021` (server local time) or an integer."""
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return int(time.mktime(time.strptime(" ".join(value.split()), "%a %b %d %H:%M:%S %Y")))
    except ValueError:
        log.warning("PBS time %r is in no form f7tproxy knows", value[:60])
        return None


def state(attrs: dict[str, Any]) -> tuple[str, str | None, int | None, int | None]:
    """(state, reason, exit code, signal) of a job."""
    letter = str(attrs.get("job_state", "")).strip()
    status = attrs.get("Exit_status")
    code = status if isinstance(status, int) else to_int(str(status or ""), field="Exit_status")
    signal = None
    if code is not None and code >= 256:
        # PBS: 256 + signal when the job was killed by a signal (271 = TERM: qdel).
        signal, code = code - 256, None
    if letter == "F":
        if signal == 15:
            word = "CANCELLED"
        elif code == 0:
            word = "COMPLETED"
        elif code is not None and code < 0:
            word = "TIMEOUT" if code == -29 else "FAILED"  # JOB_EXEC_KILL_WALLTIME
        else:
            word = "FAILED"
        return word, None, code, signal
    known = _STATES.get(letter)
    if known is None:
        log.warning("PBS job state %r is not one f7tproxy knows", letter[:20])
    return known or "PENDING", _REASONS.get(letter), code, signal


def _hosts(exec_host: Any) -> list[str]:
    # "charon24/0*2+charon21/0*2" -> ["charon24", "charon21"]
    if not isinstance(exec_host, str):
        return []
    hosts: list[str] = []
    for part in exec_host.split("+"):
        host = part.split("/", 1)[0]
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def _path(value: Any) -> str | None:
    # "host:/path" -> "/path"
    if not isinstance(value, str) or not value:
        return None
    return value.split(":", 1)[1] if ":" in value and not value.startswith("/") else value


def jobs(text: str, *, default_cluster: str) -> list[tuple[Job, dict[str, Any]]]:
    """Jobs of `qstat -f -F json [-x]`, each with its raw attributes."""
    data = document(text)
    out = []
    server = data.get("pbs_server") or default_cluster
    for full_id, attrs in (data.get("Jobs") or {}).items():
        if not isinstance(attrs, dict):
            log.warning("PBS job %r has no attributes", full_id)
            continue
        word, reason, code, signal = state(attrs)
        resources = attrs.get("Resource_List") or {}
        used = attrs.get("resources_used") or {}
        variables = attrs.get("Variable_List") or {}
        hosts = _hosts(attrs.get("exec_host"))
        start = pbs_time(attrs.get("stime"))
        end = pbs_time(attrs.get("obittime") or (attrs.get("mtime") if word in _FINISHED else None))
        owner = str(attrs.get("Job_Owner", "")).split("@", 1)[0] or None
        job = Job(
            job_id=short_id(full_id),
            name=str(attrs.get("Job_Name", "")),
            status=JobStatus(state=word, state_reason=reason, exit_code=code, interrupt_signal=signal),
            time=JobTime(
                elapsed=duration(str(used.get("walltime", "")), field="walltime") if used else None,
                start=start,
                end=end,
                suspended=None,
                limit=duration(str(resources.get("walltime", "")), field="walltime") if resources else None,
            ),
            allocation_nodes=_int(resources.get("nodect")) or len(hosts),
            cluster=str(server),
            nodes=",".join(hosts),
            partition=str(attrs.get("queue", "")),
            user=owner,
            working_directory=str(variables.get("PBS_O_WORKDIR", attrs.get("jobdir", ""))),
            account=attrs.get("project") or attrs.get("Account_Name"),
            group=attrs.get("egroup"),
            priority=_int(attrs.get("Priority")),
        )
        out.append((job, attrs))
    return out


_FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    return to_int(str(value), field="?") if value is not None else None


def short_id(full_id: str) -> str:
    """`40.pbs` -> `40`; `123[].server` -> `123[]`."""
    m = re.match(r"[0-9]+(\[[0-9]*\])?", full_id)
    return m.group(0) if m else full_id


def marker_of(attrs: dict[str, Any]) -> str | None:
    value = (attrs.get("Variable_List") or {}).get(MARKER_VARIABLE)
    return str(value) if value is not None else None


def metadata(job: Job, attrs: dict[str, Any]) -> JobMetadata:
    """Standard streams of a job (PBS keeps no script a user can read back)."""
    return JobMetadata(
        job_id=job.job_id,
        script=None,
        standard_input=None,
        standard_output=_path(attrs.get("Output_Path")),
        standard_error=_path(attrs.get("Error_Path")),
    )


def submitted_id(stdout: str) -> str | None:
    """The id from qsub's answer, `1234.server` -> `1234`."""
    m = re.fullmatch(r"\s*([0-9]+(\[[0-9]*\])?)(\.\S*)?\s*", stdout)
    return m.group(1) if m else None


_NODE_STATES = {
    "free": "IDLE", "job-busy": "ALLOCATED", "job-exclusive": "ALLOCATED", "job-sharing": "MIXED",
    "busy": "BUSY", "down": "DOWN", "offline": "OFFLINE", "state-unknown": "UNKNOWN", "stale": "UNKNOWN",
    "resv-exclusive": "RESERVED", "provisioning": "POWERING_UP", "wait-provisioning": "POWERING_UP",
    "unresolvable": "DOWN", "sleep": "POWERING_DOWN", "maintenance": "RESERVED", "initializing": "POWERING_UP",
}  # fmt: skip


def _kb(value: Any) -> int | None:
    """MiB from PBS sizes like `384000000kb`, `8gb`."""
    if value is None:
        return None
    m = re.fullmatch(r"([0-9]+)([kmgtp]?)(b|w)?", str(value).strip().lower())
    if m is None:
        log.warning("PBS size %r is in no form f7tproxy knows", str(value)[:40])
        return None
    scale = {"": 1 / 1024, "k": 1, "m": 1024, "g": 1024**2, "t": 1024**3, "p": 1024**4}[m.group(2)]
    return int(int(m.group(1)) * scale // 1024)


def nodes(text: str) -> list[Node]:
    """Nodes of `pbsnodes -a -F json`."""
    out = []
    for name, attrs in (document(text).get("nodes") or {}).items():
        if not isinstance(attrs, dict) or "Error" in attrs:
            continue
        available = attrs.get("resources_available") or {}
        assigned = attrs.get("resources_assigned") or {}
        states: list[str] = []
        for word in str(attrs.get("state", "")).split(","):
            mapped = _NODE_STATES.get(word.strip())
            if mapped is None:
                log.warning("PBS node state %r is not one f7tproxy knows", word[:40])
                mapped = "UNKNOWN"
            if mapped not in states:
                states.append(mapped)
        cpus = _int(available.get("ncpus")) or _int(attrs.get("pcpus")) or 0
        used = _int(assigned.get("ncpus")) or 0
        mem, mem_used = _kb(available.get("mem")), _kb(assigned.get("mem")) or 0
        queues = available.get("Qlist") or attrs.get("queue")
        out.append(
            Node(
                name=name,
                cpus=cpus,
                state=states or ["UNKNOWN"],  # type: ignore[arg-type]
                free_memory=None if mem is None else mem - mem_used,
                alloc_memory=mem_used,
                address=attrs.get("Mom"),
                hostname=available.get("host"),
                partitions=str(queues).split(",") if queues else None,
                alloc_cpus=used,
                idle_cpus=cpus - used,
            )
        )
    return out


def partitions(text: str) -> list[Partition]:
    """Queues of `qstat -Q -f -F json`; a queue is UP when enabled and started."""
    out = []
    for name, attrs in (document(text).get("Queue") or {}).items():
        if not isinstance(attrs, dict):
            continue
        up = str(attrs.get("enabled")) == "True" and str(attrs.get("started")) == "True"
        available = attrs.get("resources_available") or {}
        assigned = attrs.get("resources_assigned") or {}
        out.append(
            Partition(
                name=name,
                partition="UP" if up else "DOWN",
                cpus=_int(available.get("ncpus")) or _int(assigned.get("ncpus")),
                total_nodes=_int(available.get("nodect")),
            )
        )
    return out


def reservations(text: str) -> list[Reservation]:
    """Reservations of `pbs_rstat -f`: blocks starting `Resv ID: X`, then `key = value` lines."""
    out = []
    for block in re.split(r"\n(?=Resv ID:)", text.strip()):
        if not block.startswith("Resv ID:"):
            continue
        kv: dict[str, str] = {}
        for line in block.splitlines()[1:]:
            key, sep, value = line.partition(" = ")
            if sep:
                kv[key.strip()] = value.strip()
        name = kv.get("Reserve_Name") or block.splitlines()[0].removeprefix("Resv ID:").strip()
        nodes_text = kv.get("resv_nodes", "")
        node_names = [p.strip("()").split(":", 1)[0] for p in nodes_text.split("+") if p]
        out.append(
            Reservation(
                name=name,
                node_list=",".join(node_names),
                start_time=pbs_time(kv.get("reserve_start")) or 0,
                end_time=pbs_time(kv.get("reserve_end")) or 0,
                features=None,
                state=kv.get("reserve_state"),
            )
        )
    return out


