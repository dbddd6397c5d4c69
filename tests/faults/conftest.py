"""The fault suite: a real f7tproxy under concurrent load while parts of the testbed fail.

Every test here stops and starts shared testbed parts: run the suite under the
testbed lock (``flock -w 900 /tmp/f7t-testbed.lock .venv/bin/pytest tests/faults``).
Each test restores what it broke in a `finally`, bounds its load in time, and
records its figures (slowest answer during the outage, status codes, recovery
time, ...), printed at the end of the run and written to
``<pytest basetemp>/faults-summary.json``.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import pathlib
import signal
import socket
import subprocess
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import httpx
import pytest
import trio
import yaml

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, gateway_config
from ..server_process import ServerProcess

LOCK = pathlib.Path("/tmp/f7t-testbed.lock")
FIGURES: list[dict[str, Any]] = []
"""Each test's figures, printed by `pytest_terminal_summary`."""


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault figures")
    for fig in FIGURES:
        terminalreporter.write_line(json.dumps(fig, sort_keys=False))


@pytest.fixture(scope="session", autouse=True)
def testbed_lock() -> Iterator[None]:
    """Hold /tmp/f7t-testbed.lock for the run if nobody does (normally the `flock` wrapper holds it)."""
    with open(LOCK, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield  # held: by the flock(1) this run was started under, as HELPERS/README ask
            return
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def write_summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    if FIGURES:
        path = tmp_path_factory.getbasetemp() / "faults-summary.json"
        path.write_text(json.dumps(FIGURES, indent=1))


# --------------------------------------------------------------------------- the gateway


def fault_config(testbed: Testbed, tmp: pathlib.Path) -> dict[str, Any]:
    """The gateway's config for fault tests: the testbed cluster with short connect and probe deadlines.

    The pool bounds a connect (TCP, handshake, login) by 2 s + 2 s, keepalives drop a
    connection whose sshd stops answering after about 2 s, and the ssh probe gives
    up after 2 s: together with the circuit breaker's defaults these bound how long a
    request can wait on a dead or hung login node.
    """
    config = gateway_config(testbed)
    cluster = config["clusters"][0]
    cluster["ssh"]["pool"].update({
        "lease_timeout": 10, "connect_timeout": 2, "login_timeout": 2,
        "keepalive_interval": 1, "keepalive_count_max": 1,
    })  # fmt: skip
    cluster["probes"] = {
        "interval": 30,
        "services": {"ssh": {"timeout": 2}, "scheduler": {"timeout": 5}, "filesystem": {"timeout": 5},
                     "s3": {"timeout": 2}},
    }  # fmt: skip
    if "staging" in cluster:
        # The S3 fault test starts two uploads a second and never sends them: no per-user cap here.
        cluster["staging"]["max_waiting_uploads"] = 1000
    config["server"]["admin_socket"] = str(tmp / "admin.sock")
    return config


@contextlib.contextmanager
def running_gateway(config: dict[str, Any], tmp: pathlib.Path) -> Iterator[Gateway]:
    path = tmp / "f7tproxy.yaml"
    path.write_text(yaml.safe_dump(config))
    with ServerProcess(path) as process:
        yield Gateway(url=process.url, process=process)


@pytest.fixture
def gateway(testbed: Testbed, tmp_path: pathlib.Path) -> Iterator[Gateway]:
    with running_gateway(fault_config(testbed, tmp_path), tmp_path) as gw:
        yield gw


def admin(tmp: pathlib.Path, **request: Any) -> dict[str, Any]:
    """One admin-socket request (e.g. ``cmd="snapshot"``); its result."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(tmp / "admin.sock"))
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    answer = json.loads(data)
    assert answer["ok"], answer
    return answer["result"]  # type: ignore[no-any-return]


async def settled_pool(tmp: pathlib.Path, *, within: float = 15.0) -> dict[str, Any]:
    """Wait until no lease, waiter or connect is left in the pool and the breaker is closed; the snapshot."""
    snap: dict[str, Any] = {}
    with trio.move_on_after(within):
        while True:
            snap = await trio.to_thread.run_sync(lambda: admin(tmp, cmd="snapshot"))
            busy = [p for p in snap["pools"] if p["slots_in_use"] or p["waiters"] or p["connecting"]]
            if not busy and all(s["breaker"]["state"] == "closed" for s in snap["systems"]):
                return snap
            await trio.sleep(0.25)
    raise AssertionError(f"the pool did not return to rest within {within} s: {snap.get('pools')} "
                         f"{[s['breaker'] for s in snap.get('systems', [])]}")  # fmt: skip


# --------------------------------------------------------------------------- the cluster side


RUNNER_PROCESS = ("python3 -I -c import os;b=bytearray();n=", "[python3] <defunct>")
"""How a slot's persistent runner shows in `pgrep -a` (it lives as long as its connection), and
what is left of one that exited with its connection until sshd reaps it."""


def user_processes(user: str = "fireuser") -> list[str]:
    """The user's processes on the (local) cluster, sshd's own per-connection processes (and their
    zombies, "[sshd] <defunct>") and the pool's runners left out: what is left are commands."""
    out = subprocess.run(["pgrep", "-u", user, "-a"], capture_output=True, text=True, timeout=10).stdout
    return [
        line for line in out.splitlines()
        if not (line.split(maxsplit=1) + [""])[1].startswith(("[sshd", "sshd", *RUNNER_PROCESS))
    ]  # fmt: skip


async def quiet_processes(user: str = "fireuser", *, within: float = 10.0) -> list[str]:
    """The user's processes once none is left (or what is left after `within` seconds)."""
    left: list[str] = []
    with trio.move_on_after(within):
        while left := user_processes(user):
            await trio.sleep(0.25)
    return left


async def part_ctl(testbed: Testbed, action: str, part: str) -> float:
    """`tests/testbed/<action> <part>` in a thread; returns when it has answered (trio time)."""
    await trio.to_thread.run_sync(lambda: testbed.ctl(action, part, timeout=120))
    return trio.current_time()


async def outage(
    testbed: Testbed, part: str, seconds: float, *, warm: float = 3.0
) -> tuple[float, float, float]:
    """After `warm` seconds of load, stop `part` for `seconds`, then start it again (also on failure).

    Returns (fault_at, down_at, restored_at): when the stop began, when it had ended (the part is
    gone; a request started in between may still have been served) and when the part answered again.
    """
    await trio.sleep(warm)
    fault_at = down_at = trio.current_time()
    try:
        down_at = await part_ctl(testbed, "down", part)
        await trio.sleep(seconds)
    finally:
        restored_at = await part_ctl(testbed, "up", part)
    return fault_at, down_at, restored_at


def sshd_pids(testbed: Testbed) -> list[int]:
    """The testbed sshd's listener and every process below it (sessions, users' commands)."""
    main = int((testbed.dir / "ssh" / "sshd.pid").read_text().split()[0])
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, timeout=10).stdout
    kids: dict[int, list[int]] = collections.defaultdict(list)
    for line in table.splitlines():
        pid, ppid = (int(x) for x in line.split())
        kids[ppid].append(pid)
    found, queue = [main], [main]
    while queue:
        for kid in kids[queue.pop()]:
            found.append(kid)
            queue.append(kid)
    return found


def signal_all(pids: Sequence[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


# --------------------------------------------------------------------------- load


@attrs.frozen
class Sample:
    kind: str
    t0: float
    t1: float
    status: int | str
    """HTTP status, or "dropped" (the connection broke) / "timeout" (no answer within the client's deadline)."""
    retry_after: str | None
    message: str

    @property
    def took(self) -> float:
        return self.t1 - self.t0


@attrs.frozen
class Call:
    kind: str
    method: str
    path: str
    json: Any = None
    ok: tuple[int, ...] = (200,)


@attrs.define
class Load:
    """`clients` concurrent HTTP clients, each looping over `calls` until stopped (bounded by `limit` s),
    plus newcomers: one fresh request every `arrival_every` seconds whatever the others wait for.

    Looping clients alone would hide a hang: once they all wait, nobody new arrives.
    The newcomers (at most `max_arrivals` in flight) are what a fresh client sees.
    """

    url: str
    token: str
    calls: Sequence[Call]
    clients: int = 30
    arrival_every: float = 0.2
    max_arrivals: int = 60
    timeout: float = 20.0
    limit: float = 90.0
    samples: list[Sample] = attrs.Factory(list)
    _stop: trio.Event = attrs.Factory(trio.Event)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        limits = httpx.Limits(max_connections=self.max_arrivals)
        with trio.move_on_after(self.limit):
            async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=self.timeout,
                                         limits=limits) as shared, trio.open_nursery() as n:  # fmt: skip
                for i in range(self.clients):
                    n.start_soon(self._client, i, headers)
                n.start_soon(self._arrivals, shared, n)
                await self._stop.wait()
                n.cancel_scope.cancel()

    async def _client(self, index: int, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=self.timeout) as client:
            turn = index
            while True:
                call = self.calls[turn % len(self.calls)]
                turn += 1
                if not await self._one(client, call):
                    await trio.sleep(0.1)  # a client backing off a little, as clients do

    async def _arrivals(self, client: httpx.AsyncClient, nursery: trio.Nursery) -> None:
        in_flight = trio.CapacityLimiter(self.max_arrivals)
        turn = 0
        while True:
            await trio.sleep(self.arrival_every)
            if in_flight.available_tokens:
                nursery.start_soon(self._arrival, client, self.calls[turn % len(self.calls)], in_flight)
                turn += 1

    async def _arrival(self, client: httpx.AsyncClient, call: Call, limiter: trio.CapacityLimiter) -> None:
        async with limiter:
            await self._one(client, call)

    async def _one(self, client: httpx.AsyncClient, call: Call) -> bool:
        t0 = trio.current_time()
        try:
            r = await client.request(call.method, call.path, json=call.json)
            status: int | str = r.status_code
            retry, message = r.headers.get("Retry-After"), _message(r)
        except httpx.TimeoutException:
            status, retry, message = "timeout", None, ""
        except httpx.TransportError as exc:
            status, retry, message = "dropped", None, type(exc).__name__
        self.samples.append(Sample(call.kind, t0, trio.current_time(), status, retry, message))
        return status in call.ok


def _message(r: httpx.Response) -> str:
    if r.status_code < 400:
        return ""
    with contextlib.suppress(ValueError):
        return str(r.json().get("message", ""))[:200]
    return r.text[:200]


# --------------------------------------------------------------------------- figures


def figures(
    name: str,
    samples: Sequence[Sample],
    fault_at: float,
    restored_at: float,
    *,
    kinds: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What the clients of `kinds` saw: before, during (started in [fault_at, restored_at)) and after."""
    mine = [s for s in samples if kinds is None or s.kind in kinds]
    before = [s for s in mine if s.t0 < fault_at]
    during = [s for s in mine if fault_at <= s.t0 < restored_at]
    after = [s for s in mine if s.t0 >= restored_at]
    bad_after = [s for s in after if not _ok(s)]
    cutoff = max((s.t0 for s in bad_after), default=restored_at)
    recovered = [s.t1 for s in after if _ok(s) and s.t0 >= cutoff]
    gated = min((s.t1 for s in during if s.status == 503), default=None)
    fig = {
        "test": name,
        "kinds": list(kinds) if kinds else "all",
        "requests": len(mine),
        "before": dict(collections.Counter(str(s.status) for s in before)),
        "during": dict(collections.Counter(str(s.status) for s in during)),
        "after": dict(collections.Counter(str(s.status) for s in after)),
        "slowest_during": round(max((s.took for s in during), default=0.0), 3),
        "slowest_during_started_after_1s": round(
            max((s.took for s in during if s.t0 >= fault_at + 1.0), default=0.0), 3),
        "first_503_after_s": None if gated is None else round(gated - fault_at, 3),
        # How long the gate took to refuse: refusals only (once the part is back, but before
        # `up` returned, requests are served again, at the pace of a part that just started).
        "slowest_refused_after_gate": round(
            max((s.took for s in during if gated is not None and s.t0 >= gated and not _ok(s)), default=0.0), 3),
        "p50_during": round(_median([s.took for s in during]), 3),
        "errors_without_retry_after_during": sum(
            1 for s in during if s.status in (503, 504) and s.retry_after is None),
        "bare_500": sum(1 for s in mine if s.status == 500),
        "dropped_or_timeout": sum(1 for s in mine if s.status in ("dropped", "timeout")),
        "recovery_s": round(min(recovered) - restored_at, 3) if recovered else None,
        "outage_s": round(restored_at - fault_at, 3),
        "slow_during": sorted(
            (round(s.t0 - fault_at, 2), round(s.took, 2), s.status, s.message[:60]) for s in during if s.took > 2.0
        )[:8],
        "messages_before": sorted({f"{s.status}: {s.message[:90]}" for s in before if not _ok(s)})[:4],
        "messages_during": sorted({f"{s.status}: {s.message[:90]}" for s in during if not _ok(s)})[:6],
        "messages_after": sorted({f"{s.status}: {s.message[:120]}" for s in after if not _ok(s)})[:4],
    }
    FIGURES.append(fig)
    print(json.dumps(fig))
    return fig


def server_errors(gateway: Gateway, limit: int = 40) -> list[str]:
    """The server's log lines about failures (errors, tracebacks, 500s): what a failed figure needs."""
    marks = ("ERROR", "Traceback", "Error:", " 500 ")
    return [line.rstrip() for line in gateway.process.output if any(m in line for m in marks)][-limit:]


def _ok(s: Sample) -> bool:
    return isinstance(s.status, int) and 200 <= s.status < 300


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2] if xs else 0.0


def ls_call(user: str = "fireuser") -> Call:
    return Call("ls", "GET", f"/filesystem/{SYSTEM}/ops/ls?path=/home/{user}")

