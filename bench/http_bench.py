"""End-to-end benchmark: f7tproxy over HTTP against the testbed, with wrk, beside two ceilings.

    bench/setup-users && .venv/bin/python bench/http_bench.py     # as root, testbed up

It starts f7tproxy (`python -m f7tproxy serve`) with a configuration made from
conf/demo.yaml (pool 4 connections x 9 sessions; one user, fireuser, unless
--users N), gets bearer tokens from the demo issuer, submits one job (cancelled
at the end), and drives these requests with wrk at each --clients count:

    ls        GET /filesystem/{s}/ops/ls?path=<a directory of 16 small files>
    stat      GET /filesystem/{s}/ops/stat?path=<one of them>
    jobs      GET /compute/{s}/jobs
    job       GET /compute/{s}/jobs/{id}     (the job it submitted)
    userinfo  GET /status/{s}/userinfo
    systems   GET /status/systems

and, in the same rounds, two ceilings:

    asyncssh  plain asyncssh on asyncio in this process, running the exact remote
              command f7tproxy ran for ls / stat (taken from its audit log), same pool
              shape (4 connections x 9 sessions per user, one channel per command,
              the ciphers f7tproxy prefers, AES-GCM first), 50 callers
    bare      a bare Quart-Trio app on hypercorn's trio worker (bench/bare_app.py)
              answering the body f7tproxy's /status/systems returned, same wrk settings

Per scenario and client count it prints req/s, p50/p99 latency and socket
errors (wrk's), non-2xx answers (wrk's count, with the statuses from f7tproxy's
access log), the requests still in flight when wrk stopped ("cut off"), server
CPU ms per answered request (utime + stime of the server process from
/proc/PID/stat, from wrk's start to its exit), the time the server was ready
to run but waited for a CPU, per request (the run-queue delay of its threads from
/proc/PID/task/*/schedstat: on shared cores, what the login node's processes
took from it; for the ceilings, of this process), the share of the run's wall
time its main thread (the event loop's) ran, and was ready to run (ran or
waited: a single-threaded server ready ~100% of the time is bound by the CPU it
gets), remote commands per answered
request (audit-log lines carrying the request ids of the answered requests),
the login node's CPU per request (utime + stime, reaped children's included, of
the sshd's whole process tree: connections, sessions, shells, commands, runners),
and the ratios of req/s and CPU per request to the ceiling (ls/stat to
asyncssh, systems to bare at the same client count). Rounds are interleaved
(round 1 of everything, then round 2...); the medians of --repeat rounds end
the output as a markdown table. At 500 clients the pool may answer 503 when a
request waits longer than its lease_timeout for a channel.

With --users N > 1 the requests rotate over the tokens of bench01..benchN
(bench/setup-users). The testbed's sshd only admits its own users, so the bench
then starts a second sshd on 127.0.0.1:2224 from the testbed's sshd_config (same
host key, user CA and limits; AllowUsers adds the bench users) and points both
f7tproxy and the asyncssh ceiling at it. The bench users have no Slurm account:
the job is fireuser's, and they look it up.

With --split-cores the bench pins itself, and so f7tproxy, wrk, the bare app and the
asyncssh client, to half of the CPUs, and the testbed's sshd with every process below
it (the login node: connections, sessions, runners, commands) to the other half, as if
gateway and login node were two machines, which they are in a deployment; the pinning
is undone at the end. On the shared CPUs the login node's work and the gateway's compete,
so a figure there shows the sum of both; split, each side's bound shows on its own.

With --rss-users N (up to 500) it measures memory instead: users bench01..benchN
(made with bench/setup-users --count N if missing, and removed again at the end)
each get a token and run one ops/stat, through a second sshd as above, so that each
holds one pooled SSH connection; it prints f7tproxy's resident memory (VmRSS)
before and with them.

--profile DIR adds, after the timed rounds, one more wrk run per scenario and client
count with py-spy (pip install py-spy into the venv; not a dependency of f7tproxy)
sampling the f7tproxy process's thread that holds the GIL (Python's CPU; waits and
system calls that release the GIL, such as socket sends, are not sampled): it prints
the functions with most samples by self and by total (line numbers dropped) and keeps
the collapsed stacks in DIR. py-spy pauses the process at each sample, so those runs
are not timed, and the timed rounds are never sampled.

--runner auto|off sets the cluster's ssh.runner (a persistent runner per slot, or
a channel per command); run it once with each to compare the two modes.

--distinct makes ls and stat ask DISTINCT (200) different paths (subdirectories of
the bench's directory, each with the same 16 files, and a file in each): each wrk
thread walks its own share of them, so concurrent requests seldom ask the same path
and nearly every request needs a remote command of its own (commands/req ~1). Without
it, 50 clients ask one path and shared reads answer them with one command: that
measures the coalescing, not the SSH path.

Everything it starts (servers, sshd, job, files under /scratch) is stopped or
removed at the end, also on Ctrl-C or an error. Needs root, the testbed up
(tests/testbed/up) and wrk (installed with apt-get if missing).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import datetime
import json
import os
import pathlib
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import asyncssh
import attrs
import trio
import yaml

from f7tproxy import _aio
from f7tproxy._aio._ssh import ENCRYPTION_ALGS
from f7tproxy.config import from_yaml as config_from_yaml
from f7tproxy.ssh import remote_command
from f7tproxy.ssh._command import KILL_AFTER, remote_deadline

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TESTBED_ENV = pathlib.Path(os.environ.get("F7T_TESTBED_DIR", "/var/lib/f7tproxy-testbed")) / "testbed.env"
SYSTEM = "cluster-slurm"
HOST = "127.0.0.1"
BENCH_SSHD_PORT = 2224
CONNECTIONS = 4
SESSIONS = 9
CEILING_CALLERS = 50
WRK_TIMEOUT = 60  # s; above the pool's lease_timeout, so slow answers count as latency, not as errors
SCENARIOS = ("ls", "stat", "jobs", "job", "userinfo", "systems")
RSS_USERS_MAX = 500
CEILING_OF = {"ls": "asyncssh ls", "stat": "asyncssh stat", "systems": "bare"}
RUNNER_ROW = {"asyncssh ls": "runner ls", "asyncssh stat": "runner stat"}
RUNNER_OUTPUT_LIMIT = 1 << 20
DIR_ENTRIES = 16
LOG_DELAY = 0.3
"""Seconds f7tproxy may take to write its last log lines (its log writer runs every 50 ms)."""
DISTINCT = 200
"""With --distinct: subdirectories of the bench's directory that ls and stat rotate over."""


# --------------------------------------------------------------------------- small helpers


def say(text: str = "") -> None:
    print(text, flush=True)


def fail(text: str) -> NoReturn:
    raise SystemExit(f"bench/http_bench.py: {text}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=1):
        return True


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` (all its threads), in seconds."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runqueue_seconds(pid: int) -> float:
    """Time the threads of process `pid` spent runnable but waiting for a CPU, in seconds
    (/proc/PID/task/*/schedstat, second field: the scheduler's run-queue delay)."""
    total = 0
    for stat in pathlib.Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(stat.read_text().split()[1])
    return total / 1e9


def main_thread_seconds(pid: int) -> tuple[float, float]:
    """Time the main thread of process `pid` ran, and was runnable but waited for a CPU, in
    seconds (/proc/PID/task/PID/schedstat: the thread that runs the event loop)."""
    fields = pathlib.Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


def main_thread_share(before: tuple[float, float], after: tuple[float, float], wall: float) -> tuple[float, float]:
    """Of `wall` seconds, the fractions the main thread ran and was ready to run (ran or waited)."""
    ran, waited = after[0] - before[0], after[1] - before[1]
    return ran / wall, (ran + waited) / wall


def testbed_settings() -> dict[str, str]:
    if not TESTBED_ENV.exists():
        fail(f"{TESTBED_ENV} is missing: the testbed is not set up; run tests/testbed/up")
    out = {}
    for line in TESTBED_ENV.read_text().splitlines():
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            out[key] = shlex.split(value)[0] if value else ""
    return out


def check_testbed() -> None:
    status = subprocess.run([ROOT / "tests/testbed/status"], capture_output=True, text=True, timeout=60)
    if status.returncode != 0:
        fail(f"the testbed is not (all) up; start it with tests/testbed/up\n{status.stdout}{status.stderr}")


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        say("wrk is missing: apt-get install -y wrk")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, timeout=600, env=env)
        wrk = shutil.which("wrk")
    if wrk is None:
        fail("wrk is still missing after apt-get install -y wrk")
    return wrk


def raise_nofile(want: int = 65536) -> int:
    """Raise RLIMIT_NOFILE for this process and the children it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        with contextlib.suppress(ValueError, OSError):  # only root may raise the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return max(soft, target)


def wait_until(what: str, ready: Any, *, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            fail(f"{what}: the process exited with status {proc.returncode}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            if ready():
                return
        if time.monotonic() > deadline:
            fail(f"{what}: not ready after {timeout:g} s")
        time.sleep(0.1)


def http(method: str, url: str, *, token: str | None = None, data: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, bytes]:  # fmt: skip
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def stop_process(proc: subprocess.Popen[bytes], name: str, *, grace: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        say(f"{name} did not stop within {grace:g} s of SIGTERM: killing it")
        proc.kill()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- what the bench starts


@attrs.frozen
class Sshd:
    """Where f7tproxy and the asyncssh ceiling log in."""

    port: int
    known_hosts: pathlib.Path
    ca_key: pathlib.Path
    pid: int | None = None
    """The listener's pid: the login node's CPU is that of its process tree."""


LOGIN_PARTS = ("sshd", "sessions", "runners", "commands")
"""The login node's CPU split (`tree_cpu`): sshd processes' own; what sshd reaped (a channel per
command: the user's shell and the command); the runners' own (python3); everything else (the
commands the runners reaped, and processes alive at the snapshot)."""


def process_table() -> tuple[dict[int, list[int]], dict[int, tuple[str, int, int]]]:
    """Every process's children, and its name, own CPU and its reaped children's CPU (clock ticks)."""
    kids: dict[int, list[int]] = collections.defaultdict(list)
    times: dict[int, tuple[str, int, int]] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            head, tail = stat.read_text().rsplit(")", 1)
            fields = tail.split()
            pid = int(stat.parent.name)
            kids[int(fields[1])].append(pid)
            times[pid] = (head.partition("(")[2], int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]))
    return kids, times


def below(root: int, kids: dict[int, list[int]]) -> Iterator[int]:
    """`root` and every process below it."""
    queue = [root]
    while queue:
        pid = queue.pop()
        queue.extend(kids[pid])
        yield pid


def tree_cpu(root: int | None) -> tuple[float, ...]:
    """utime + stime, with those of reaped children, of `root` and every process below it: the
    login node's CPU (sshd's connections and sessions, the shells and commands, the runners),
    in seconds, split as LOGIN_PARTS says."""
    if root is None:
        return (0.0,) * len(LOGIN_PARTS)
    kids, times = process_table()
    parts = [0] * len(LOGIN_PARTS)
    for pid in below(root, kids):
        if pid not in times:
            continue
        comm, own, reaped = times[pid]
        if comm == "sshd":
            parts[0] += own
            parts[1] += reaped
        elif comm.startswith("python"):
            parts[2] += own
            parts[3] += reaped
        else:
            parts[3] += own + reaped
    return tuple(x / os.sysconf("SC_CLK_TCK") for x in parts)


@contextlib.contextmanager
def split_cores(sshd_pid: int | None) -> Iterator[str]:
    """With --split-cores: this process (so f7tproxy, wrk, the bare app and the asyncssh
    client it starts) on the first half of the CPUs, the sshd and every process below it
    (connections, sessions, runners, commands: the login node) on the other half, as if
    the gateway and the login node were two machines. Undone at the end."""
    cpus = sorted(os.sched_getaffinity(0))
    if sshd_pid is None or len(cpus) < 2:
        fail("--split-cores needs 2 CPUs or more and the sshd's pid")
    gateway, login = set(cpus[: len(cpus) // 2]), set(cpus[len(cpus) // 2 :])

    def pin(cpu_set: set[int]) -> None:
        for pid in below(sshd_pid, process_table()[0]):
            with contextlib.suppress(OSError):  # (gone meanwhile)
                os.sched_setaffinity(pid, cpu_set)

    os.sched_setaffinity(0, gateway)
    pin(login)
    try:
        yield f"CPUs {','.join(map(str, sorted(gateway)))}: this bench, f7tproxy, wrk, the bare app and the asyncssh client; " \
              f"CPUs {','.join(map(str, sorted(login)))}: the sshd and everything below it"  # fmt: skip
    finally:
        pin(set(cpus))
        os.sched_setaffinity(0, set(cpus))


def testbed_sshd_pid(env: dict[str, str]) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((pathlib.Path(env["F7T_TESTBED_DIR"]) / "ssh/sshd.pid").read_text().split()[0])
    return None


@contextlib.contextmanager
def bench_sshd(tmp: pathlib.Path, env: dict[str, str], users: Sequence[str]) -> Iterator[Sshd]:
    """A second sshd from the testbed's sshd_config that also admits `users` (the bench users)."""
    testbed_dir = pathlib.Path(env["F7T_TESTBED_DIR"])
    lines = []
    for line in (testbed_dir / "ssh/sshd_config").read_text().splitlines():
        word = line.split(maxsplit=1)[0] if line.strip() else ""
        if word == "Port":
            line = f"Port {BENCH_SSHD_PORT}"
        elif word == "PidFile":
            line = "PidFile none"
        elif word == "AllowUsers":
            line = f"{line} {' '.join(users)}"
        lines.append(line)
    config = tmp / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    host_pub = (testbed_dir / "ssh/ssh_host_ed25519_key.pub").read_text().split()
    known_hosts = tmp / "known_hosts"
    known_hosts.write_text(f"[{HOST}]:{BENCH_SSHD_PORT} {host_pub[0]} {host_pub[1]}\n")
    os.makedirs("/run/sshd", exist_ok=True)
    subprocess.run(["/usr/sbin/sshd", "-t", "-f", config], check=True, timeout=30)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", config, "-E", tmp / "sshd.log"],
                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        wait_until("bench sshd", lambda: port_open(BENCH_SSHD_PORT), timeout=15, proc=proc)
        yield Sshd(BENCH_SSHD_PORT, known_hosts, pathlib.Path(env["F7T_SSH_USER_CA_KEY"]), proc.pid)
    finally:
        # The listener only; its per-connection children end with their connections.
        stop_process(proc, "bench sshd")


def fill_dir(path: pathlib.Path) -> None:
    path.chmod(0o755)
    for i in range(DIR_ENTRIES):
        (path / f"file{i:02d}.txt").write_text(f"line {i}\n" * (i + 1))


def distinct_dirs(path: pathlib.Path) -> list[pathlib.Path]:
    """The subdirectories --distinct rotates over (made by `small_dir(distinct=True)`)."""
    return [path / f"d{i:03d}" for i in range(DISTINCT)]


@contextlib.contextmanager
def small_dir(*, distinct: bool = False) -> Iterator[pathlib.Path]:
    """A directory of DIR_ENTRIES small files under /scratch that every user may read;
    `distinct`: and DISTINCT subdirectories with the same files (`distinct_dirs`)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="f7t-bench-http.", dir="/scratch"))
    try:
        fill_dir(path)
        for sub in distinct_dirs(path) if distinct else ():
            sub.mkdir()
            fill_dir(sub)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def server_config(tmp: pathlib.Path, port: int, sshd: Sshd, users: Sequence[str], token_ttl: float,
                  pool: dict[str, Any] | None = None, runner: str | None = None) -> pathlib.Path:  # fmt: skip
    """conf/demo.yaml, on a free port, with its logs and admin socket in `tmp`, a client per user,
    `pool` settings on top of the demo's (and `ssh.runner: runner`, unless None)."""
    config = yaml.safe_load((ROOT / "conf/demo.yaml").read_text())
    config["server"].update(port=port, admin_socket=str(tmp / "admin.sock"))
    issuer = config["auth"]["demo_issuer"]
    issuer["token_ttl"] = token_ttl
    known = {c["username"] for c in issuer["clients"]}
    issuer["clients"] += [
        {"client_id": f"{u}-client", "secret": f"{u}-secret", "username": u} for u in users if u not in known
    ]
    (cluster,) = config["clusters"]
    assert cluster["name"] == SYSTEM, cluster["name"]
    cluster["ssh"].update(port=sshd.port, known_hosts=str(sshd.known_hosts))
    cluster["ssh"]["credentials"]["ca_key"] = {"file": str(sshd.ca_key)}
    if runner is not None:
        cluster["ssh"]["runner"] = runner
    assert cluster["ssh"]["pool"] == {"sessions_per_connection": SESSIONS, "max_connections_per_user": CONNECTIONS}
    cluster["ssh"]["pool"].update(pool or {})
    config["logging"] = {"level": "warning", "access_log": str(tmp / "access.log"), "audit_log": str(tmp / "audit.log")}
    path = tmp / "f7tproxy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.contextmanager
def started(argv: Sequence[str], name: str, log: pathlib.Path, url: str, *,
            timeout: float = 90) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """Start a server in its own session (Ctrl-C reaches only the bench) and wait until `url` answers."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    try:
        wait_until(name, lambda: http("GET", url, timeout=2)[0] < 500, timeout=timeout, proc=proc)
        yield proc
    finally:
        stop_process(proc, name)


class Admin:
    """The admin socket's snapshot: the pool's per-user counters."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def snapshot(self) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(str(self.path))
            s.sendall(b'{"cmd":"snapshot"}\n')
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        answer = json.loads(data)
        if not answer.get("ok"):
            fail(f"admin snapshot failed: {answer}")
        return answer["result"]  # type: ignore[no-any-return]

    def pools(self, users: Sequence[str]) -> list[dict[str, Any]]:
        return [p for p in self.snapshot()["pools"] if p["system"] == SYSTEM and p["user"] in users]

    def settle(self, users: Sequence[str], metrics_url: str, timeout: float = 60) -> None:
        """Wait until no request is in flight and no lease is held or waited for.

        After wrk stops, the requests it cut off still run (or wait for a slot) on the server.
        """

        def idle() -> bool:
            text = http("GET", metrics_url, timeout=10)[1].decode()
            in_flight = next(float(x.split()[1]) for x in text.splitlines()
                             if x.startswith("f7tproxy_http_requests_in_flight "))  # fmt: skip
            return in_flight <= 1 and all(p["slots_in_use"] == 0 and p["waiters"] == 0 for p in self.pools(users))

        wait_until("the server going idle", idle, timeout=timeout)


def get_token(base: str, user: str) -> str:
    basic = base64.b64encode(f"{user}-client:{user}-secret".encode()).decode()
    status, body = http("POST", f"{base}/auth/token", data=b"grant_type=client_credentials",
                        headers={"Authorization": f"Basic {basic}",
                                 "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    if status != 200:
        fail(f"token for {user}: {status} {body[:300]!r}")
    return json.loads(body)["access_token"]  # type: ignore[no-any-return]


@contextlib.contextmanager
def bench_job(base: str, token: str, time_limit_min: int) -> Iterator[str]:
    """A sleeping job of fireuser's, cancelled at the end (and bounded by its own time limit)."""
    script = f"#!/bin/bash\n#SBATCH --time={time_limit_min}\nsleep {time_limit_min * 60}\n"
    job = {"job": {"name": "f7t-bench-http", "workingDirectory": "/home/fireuser", "script": script,
                   "standardOutput": "/dev/null", "standardError": "/dev/null"}}  # fmt: skip
    status, body = http("POST", f"{base}/compute/{SYSTEM}/jobs", token=token, data=json.dumps(job).encode(),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    if status != 201:
        fail(f"job submission: {status} {body[:300]!r}")
    job_id = str(json.loads(body)["jobId"])
    try:
        yield job_id
    finally:
        status, body = http("DELETE", f"{base}/compute/{SYSTEM}/jobs/{job_id}", token=token, timeout=30)
        if status >= 300:
            say(f"cancelling job {job_id} through f7tproxy: {status}; using scancel")
            env = {**os.environ, **testbed_settings()}
            subprocess.run(["scancel", job_id], env=env, timeout=30, check=False)


# --------------------------------------------------------------------------- measuring


@attrs.frozen
class Run:
    """One timed run of one scenario at one client count."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    cpu_ms: float
    """Server (or client, for asyncssh) CPU per request."""
    commands: float | None
    """Remote commands per answered request (f7tproxy only)."""
    statuses: dict[int, int] = attrs.field(factory=dict)
    """Non-2xx statuses of the answered requests and their counts, from the server's access log."""
    cut_off: int | None = None
    """Requests still in flight when wrk stopped (the server logs them when it notices)."""
    login_ms: float | None = None
    """The login node's CPU (the sshd's process tree) per request."""
    login_parts: tuple[float, ...] | None = None
    """`login_ms` split as LOGIN_PARTS says."""
    wait_ms: float | None = None
    """Time the server (the client, for the ceilings run in this process) was ready to run but
    waited for a CPU, per request: on shared cores, what the login node's processes took from it."""
    main_thread: tuple[float, float] | None = None
    """Of the run's wall time, the fractions the server's main thread (the client's, for the
    ceilings) ran and was ready to run: ready but not running is time its CPU went to others."""


LUA = """\
local tokens = {%(tokens)s}
local paths = {%(paths)s}
local threads = %(threads)d
local counter = 0
local reqs = {}
local n = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  -- each thread walks its own share of the paths (all of them if there are fewer paths than threads)
  local first, step = id + 1, threads
  if #paths < threads then first, step = 1, 1 end
  for i = first, #paths, step do
    for _, t in ipairs(tokens) do
      reqs[#reqs + 1] = wrk.format("GET", paths[i], {["Authorization"] = "Bearer " .. t})
    end
  end
  n = math.random(#reqs)
end
function request()
  n = n %% #reqs + 1
  return reqs[n]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.status, e.connect, e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string of ASCII text is a valid Lua string literal


@attrs.frozen
class Wrk:
    binary: str
    duration: int
    tmp: pathlib.Path

    def run(self, url: str, clients: int, tokens: Sequence[str],
            variants: Sequence[str] = ()) -> tuple[int, float, int, int, float, float]:  # fmt: skip
        """requests, seconds, non-2xx, socket errors, p50 ms, p99 ms. `variants`: paths (with their
        queries) the requests rotate over instead of `url`'s."""
        parts = urllib.parse.urlsplit(url)
        paths = list(variants) or [parts.path + (f"?{parts.query}" if parts.query else "")]
        threads = min(2, clients)
        script = self.tmp / "bench.lua"
        script.write_text(LUA % {"tokens": ", ".join(map(lua_string, tokens)),
                                 "paths": ", ".join(map(lua_string, paths)), "threads": threads})  # fmt: skip
        argv = [self.binary, f"-t{threads}", f"-c{clients}", f"-d{self.duration}s", f"--timeout={WRK_TIMEOUT}s",
                "-s", str(script), url]  # fmt: skip
        out = subprocess.run(argv, capture_output=True, text=True, timeout=self.duration + WRK_TIMEOUT + 60)
        line = next((x for x in out.stdout.splitlines() if x.startswith("WRK ")), None)
        if out.returncode != 0 or line is None:
            fail(f"wrk failed ({out.returncode}): {out.stdout}{out.stderr}")
        reqs, dur_us, status, *sock, p50, p99 = map(int, line.split()[1:])
        return reqs, dur_us / 1e6, status, sum(sock), p50 / 1000, p99 / 1000


def log_lines(log: pathlib.Path, start: int) -> list[dict[str, Any]]:
    """The JSON lines appended to `log` since it was `start` bytes long."""
    with log.open("rb") as f:
        f.seek(start)
        data = f.read()
    out = []
    for line in data.splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def logged_at(line: dict[str, Any]) -> float:
    return datetime.datetime.fromisoformat(line["ts"]).timestamp()


def size(path: pathlib.Path) -> int:
    return path.stat().st_size if path.exists() else 0


@attrs.frozen
class Server:
    """A server under load: its pid and, for f7tproxy, its admin socket, users and access log."""

    pid: int
    admin: Admin | None = None
    users: tuple[str, ...] = ()
    access_log: pathlib.Path | None = None
    audit_log: pathlib.Path | None = None
    metrics_url: str = ""
    sshd_pid: int | None = None

    def settle(self) -> None:
        if self.admin is not None:
            self.admin.settle(self.users, self.metrics_url)


def measure_http(wrk: Wrk, url: str, clients: int, tokens: Sequence[str], server: Server,
                 variants: Sequence[str] = ()) -> Run:  # fmt: skip
    """One wrk run; server CPU from its start to wrk's exit, per request wrk saw answered.

    For f7tproxy, the statuses and remote commands come from its access and audit logs: requests
    logged before wrk stopped (by wrk's clock, which starts a little after `started`) are the
    answered ones; the audit lines carrying their request ids are their commands. The requests
    wrk cut off are the ones the server logged beyond those wrk counted, once it is idle again.
    """
    server.settle()
    access0 = size(server.access_log) if server.access_log else 0
    audit0 = size(server.audit_log) if server.audit_log else 0
    cpu0, wait0 = cpu_seconds(server.pid), runqueue_seconds(server.pid)
    login0 = tree_cpu(server.sshd_pid)
    main0, wall0 = main_thread_seconds(server.pid), time.perf_counter()
    started = time.time()
    reqs, seconds, non2xx, sock, p50, p99 = wrk.run(url, clients, tokens, variants)
    main = main_thread_share(main0, main_thread_seconds(server.pid), time.perf_counter() - wall0)
    cpu_ms = (cpu_seconds(server.pid) - cpu0) * 1000 / max(reqs, 1)
    wait_ms = (runqueue_seconds(server.pid) - wait0) * 1000 / max(reqs, 1)
    login_parts = tuple((b - a) * 1000 / max(reqs, 1) for a, b in zip(login0, tree_cpu(server.sshd_pid)))
    login_ms = sum(login_parts) if server.sshd_pid else None
    if server.access_log is None or server.audit_log is None:
        return Run(reqs / seconds, p50, p99, reqs, non2xx, sock, cpu_ms, None, wait_ms=wait_ms, main_thread=main)
    server.settle()
    time.sleep(LOG_DELAY)
    stopped = started + seconds
    served = [x for x in log_lines(server.access_log, access0) if x.get("path") != "/metrics"]
    answered = {x["request_id"]: int(x["status"]) for x in served if logged_at(x) <= stopped}
    commands = sum(x.get("request_id") in answered for x in log_lines(server.audit_log, audit0))
    statuses = collections.Counter(s for s in answered.values() if not 200 <= s < 300)
    return Run(reqs / seconds, p50, p99, reqs, non2xx, sock, cpu_ms, commands / max(len(answered), 1),
               dict(sorted(statuses.items())), max(0, len(served) - reqs), login_ms,
               login_parts if server.sshd_pid else None, wait_ms, main)  # fmt: skip


@attrs.frozen
class Plain:
    """The asyncssh ceiling's set-up: where to log in, as whom, what to run."""

    sshd: Sshd
    users: tuple[str, ...]
    duration: float


async def plain_case(plain: Plain, command: str, callers: int) -> tuple[Run, str]:
    """Plain asyncssh: CONNECTIONS x SESSIONS slots per user, one channel per command, `callers` loops."""
    ca = asyncssh.read_private_key(str(plain.sshd.ca_key))
    slots: asyncio.Queue[asyncssh.SSHClientConnection] = asyncio.Queue()
    conns: list[asyncssh.SSHClientConnection] = []
    try:
        for user in plain.users:
            key = asyncssh.generate_private_key("ssh-ed25519")
            cert = ca.generate_user_certificate(key, user, principals=[user], valid_before="+1h")
            for _ in range(CONNECTIONS):
                conn = await asyncio.wait_for(asyncssh.connect(
                    HOST, plain.sshd.port, username=user, client_keys=[(key, cert)],
                    known_hosts=str(plain.sshd.known_hosts), config=None, agent_path=None,
                    encryption_algs=ENCRYPTION_ALGS,
                ), 30)  # fmt: skip
                conns.append(conn)
                for _ in range(SESSIONS):
                    slots.put_nowait(conn)
        cipher = str(conns[0].get_extra_info("send_cipher"))
        latencies: list[float] = []
        failures: list[str] = []
        loop = asyncio.get_running_loop()

        async def caller(end: float, record: bool) -> None:
            while loop.time() < end:
                conn = await slots.get()
                t = time.perf_counter()
                try:
                    status = (await asyncio.wait_for(conn.run(command), 60)).exit_status
                    error = None if status == 0 else f"exit status {status}"
                except (asyncssh.Error, OSError, asyncio.TimeoutError) as exc:
                    error = repr(exc)
                finally:
                    slots.put_nowait(conn)
                if record:
                    latencies.append(time.perf_counter() - t)
                    if error:
                        failures.append(error)

        await asyncio.gather(*(caller(loop.time() + 0.5, False) for _ in range(callers)))  # warm-up
        with CeilingClock(plain) as clock:
            await asyncio.gather(*(caller(loop.time() + plain.duration, True) for _ in range(callers)))
    finally:
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 10)
    return clock.run("asyncssh", latencies, failures), cipher


async def runner_case(plain: Plain, argv: Sequence[str], timeout: float, callers: int) -> Run:
    """f7tproxy's own SSH layer without HTTP: CONNECTIONS x SESSIONS runners per user, started
    and driven as f7tproxy does (f7tproxy._aio on trio-asyncio), `callers` trio tasks."""
    ca = _aio.import_private_key(plain.sshd.ca_key.read_text())
    latencies: list[float] = []
    failures: list[str] = []
    async with _aio.asyncio_loop():
        conns: list[_aio.Connection] = []
        runners: list[_aio.RemoteRunner] = []
        try:
            for user in plain.users:
                key = _aio.generate_user_key()
                now = time.time()
                cert = _aio.sign_user_certificate(ca, key, principal=user, valid_after=now - 60,
                                                  valid_before=now + 3600, key_id="bench")  # fmt: skip
                for _ in range(CONNECTIONS):
                    conns.append(await _aio.connect(
                        HOST, plain.sshd.port, username=user, key=key, certificate=cert,
                        known_hosts=plain.sshd.known_hosts, connect_timeout=30, login_timeout=30,
                        keepalive_interval=30, keepalive_count_max=3,
                    ))  # fmt: skip
                    for _ in range(SESSIONS):
                        runners.append(await conns[-1].start_runner(interpreter="python3", start_timeout=30))
            give, take = trio.open_memory_channel[_aio.RemoteRunner](len(runners))
            for runner in runners:
                give.send_nowait(runner)

            async def caller(end: float, record: bool) -> None:
                while trio.current_time() < end:
                    runner = await take.receive()
                    t = time.perf_counter()
                    try:
                        with trio.fail_after(60):
                            done = await runner.run(argv, deadline=remote_deadline(timeout), kill_after=KILL_AFTER,
                                                    stdin=None, output_limit=RUNNER_OUTPUT_LIMIT)  # fmt: skip
                        error = None if done.exit_status == 0 else f"exit status {done.exit_status}"
                    except (_aio.RunnerLost, trio.TooSlowError) as exc:
                        error = repr(exc)
                    finally:
                        give.send_nowait(runner)
                    if record:
                        latencies.append(time.perf_counter() - t)
                        if error:
                            failures.append(error)

            async with trio.open_nursery() as warm_up:
                for _ in range(callers):
                    warm_up.start_soon(caller, trio.current_time() + 0.5, False)
            with CeilingClock(plain) as clock:
                async with trio.open_nursery() as timed:
                    for _ in range(callers):
                        timed.start_soon(caller, trio.current_time() + plain.duration, True)
        finally:
            for runner in runners:
                await runner.aclose()
            for conn in conns:
                await conn.aclose()
    return clock.run("runner", latencies, failures)


class CeilingClock:
    """The client's CPU (getrusage), the login node's (`tree_cpu`) and the wall time of a
    ceiling's timed block; `run` makes its Run."""

    def __init__(self, plain: Plain) -> None:
        self.plain = plain

    def __enter__(self) -> CeilingClock:
        self.r0 = resource.getrusage(resource.RUSAGE_SELF)
        self.wait0 = runqueue_seconds(os.getpid())
        self.login0 = tree_cpu(self.plain.sshd.pid)
        self.main0 = main_thread_seconds(os.getpid())
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self.t0
        self.main = main_thread_share(self.main0, main_thread_seconds(os.getpid()), self.elapsed)
        self.r1 = resource.getrusage(resource.RUSAGE_SELF)
        self.wait1 = runqueue_seconds(os.getpid())
        self.login1 = tree_cpu(self.plain.sshd.pid)

    def run(self, what: str, latencies: list[float], failures: list[str]) -> Run:
        if failures:
            print(f"  {what}: {len(failures)} failures, the first: {failures[0]}", file=sys.stderr)
        ordered = sorted(latencies)
        n = len(ordered)

        def pct(p: float) -> float:
            return ordered[min(n - 1, int(p * n))] * 1000 if n else float("nan")

        cpu = (self.r1.ru_utime + self.r1.ru_stime) - (self.r0.ru_utime + self.r0.ru_stime)
        login_parts = tuple((b - a) * 1000 / max(n, 1) for a, b in zip(self.login0, self.login1))
        known = self.plain.sshd.pid is not None
        return Run(n / self.elapsed, pct(0.50), pct(0.99), n, len(failures), 0, cpu * 1000 / max(n, 1), 1.0,
                   login_ms=sum(login_parts) if known else None, login_parts=login_parts if known else None,
                   wait_ms=(self.wait1 - self.wait0) * 1000 / max(n, 1), main_thread=self.main)  # fmt: skip


def audited_argv(audit_log: pathlib.Path, action: str) -> list[str]:
    """The argv f7tproxy last ran for `action` (its audit log's `command`)."""
    for line in reversed(audit_log.read_text().splitlines()):
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("action") == action and record.get("exit_status") == 0:
                return list(record["command"])
    fail(f"no successful {action!r} command in {audit_log}")


def py_spy_binary() -> str:
    found = shutil.which("py-spy", path=os.path.dirname(PYTHON)) or shutil.which("py-spy")
    if found is None:
        fail("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


def profile_http(binary: str, wrk: Wrk, url: str, clients: int, tokens: Sequence[str], server: Server,
                 out: pathlib.Path, variants: Sequence[str] = (), top: int = 25) -> None:  # fmt: skip
    """One untimed wrk run with py-spy sampling `server` (the thread holding the GIL); prints its
    busiest functions."""
    server.settle()
    argv = [binary, "record", "--pid", str(server.pid), "--rate", "250", "--duration", str(wrk.duration + 1),
            "--format", "raw", "--output", str(out), "--gil"]  # fmt: skip
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)  # py-spy attaches
        wrk.run(url, clients, tokens, variants)
        _, err = spy.communicate(timeout=wrk.duration + 60)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait(timeout=10)
    if spy.returncode != 0 or not out.exists():
        fail(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')[-500:]}")
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for stack_line in out.read_text().splitlines():
        stack, _, count_text = stack_line.rpartition(" ")
        frames = [frame.split(":")[0] + ")" if ":" in frame else frame for frame in stack.split(";")]
        count = int(count_text)
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    say(f"  {samples} samples; by self:")
    for frame, n in own.most_common(top):
        say(f"  {100 * n / max(samples, 1):5.1f}% {frame}")
    say("  by total (self and callees):")
    for frame, n in total.most_common(top * 2):
        say(f"  {100 * n / max(samples, 1):5.1f}% {frame}")
    say(f"  collapsed stacks: {out}")


# --------------------------------------------------------------------------- report


def median(runs: Sequence[Run]) -> Run:
    def med(values: Iterator[float]) -> float:
        return float(statistics.median(values))

    statuses: collections.Counter[int] = collections.Counter()
    for r in runs:
        statuses.update(r.statuses)
    cmds = [r.commands for r in runs if r.commands is not None]
    return Run(
        rate=med(r.rate for r in runs), p50_ms=med(r.p50_ms for r in runs), p99_ms=med(r.p99_ms for r in runs),
        requests=int(med(r.requests for r in runs)), non2xx=int(med(r.non2xx for r in runs)),
        socket_errors=int(med(r.socket_errors for r in runs)), cpu_ms=med(r.cpu_ms for r in runs),
        commands=med(iter(cmds)) if cmds else None, statuses=dict(sorted(statuses.items())),
        cut_off=None if runs[0].cut_off is None else int(med(r.cut_off or 0 for r in runs)),
        login_ms=None if runs[0].login_ms is None else med(r.login_ms or 0.0 for r in runs),
        login_parts=None if runs[0].login_parts is None else tuple(
            med(r.login_parts[i] if r.login_parts else 0.0 for r in runs) for i in range(len(LOGIN_PARTS))),
        wait_ms=None if runs[0].wait_ms is None else med(r.wait_ms or 0.0 for r in runs),
        main_thread=None if runs[0].main_thread is None else (
            med(r.main_thread[0] if r.main_thread else 0.0 for r in runs),
            med(r.main_thread[1] if r.main_thread else 0.0 for r in runs)),
    )  # fmt: skip


def non2xx_text(r: Run) -> str:
    """wrk's count, then the server's own non-2xx statuses (all rounds, requests wrk cut off included)."""
    what = ", ".join(f"{s}×{n}" for s, n in r.statuses.items())
    return f"{r.non2xx} [{what}]" if what else str(r.non2xx)


def line(name: str, clients: int | str, r: Run, ceiling: Run | None = None) -> str:
    cmds = "" if r.commands is None else f"{r.commands:.2f}"
    ratio = cpu_ratio = ""
    if ceiling is not None:
        ratio = f"{r.rate / ceiling.rate:.2f}"
        cpu_ratio = f"{r.cpu_ms / ceiling.cpu_ms:.2f}"
    return (f"| {name} | {clients} | {r.rate:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {non2xx_text(r)} | "
            f"{r.socket_errors} | {'' if r.cut_off is None else r.cut_off} | {r.cpu_ms:.2f} "
            f"| {'' if r.wait_ms is None else f'{r.wait_ms:.2f}'} "
            f"| {'' if r.main_thread is None else f'{r.main_thread[0]:.0%} / {r.main_thread[1]:.0%}'} "
            f"| {cmds} | {ratio} | {cpu_ratio} "
            f"| {'' if r.login_ms is None else f'{r.login_ms:.2f}'} "
            f"| {'' if r.login_parts is None else ' / '.join(f'{x:.2f}' for x in r.login_parts)} |")  # fmt: skip


HEADER = (
    "| scenario | clients | req/s | p50 ms | p99 ms | non-2xx | socket errors | cut off | CPU ms/req "
    "| waited for a CPU ms/req | main thread ran / ready | commands/req "
    f"| × ceiling req/s | × ceiling CPU/req | login CPU ms/req | login split ({' / '.join(LOGIN_PARTS)}) |\n"
    "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


# --------------------------------------------------------------------------- main


def over_budget(signum: int, frame: Any) -> None:
    fail("ran past its time budget; stopping (something hangs: see the logs above)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are printed (default 3)")
    parser.add_argument("--clients", default="1,50,500", help="wrk connections, comma-separated (default 1,50,500)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated subset of {','.join(SCENARIOS)} (default all)")  # fmt: skip
    parser.add_argument("--rss-users", type=int, default=0, metavar="N",
                        help="measure f7tproxy's memory with N users (at most 500) each holding a pooled connection, "
                             "instead of the load runs")  # fmt: skip
    parser.add_argument("--users", type=int, default=1,
                        help="1: fireuser on the testbed's sshd; N > 1: bench01..benchN on a second sshd (default 1)")  # fmt: skip
    parser.add_argument("--profile", type=pathlib.Path, default=None, metavar="DIR",
                        help="after the timed rounds, one py-spy profile of f7tproxy per scenario and client count, "
                             "kept in DIR")  # fmt: skip
    parser.add_argument("--runner", choices=("auto", "off"), default=None,
                        help="the cluster's ssh.runner (default: conf/demo.yaml's, else auto)")  # fmt: skip
    parser.add_argument("--split-cores", action="store_true",
                        help="f7tproxy, wrk and the ceilings' clients on half of the CPUs, the sshd and all below it "
                             "(the login node) on the other half, as two machines would be")  # fmt: skip
    parser.add_argument("--distinct", action="store_true",
                        help=f"ls and stat rotate over {DISTINCT} distinct paths: about one remote command per request")  # fmt: skip
    args = parser.parse_args()
    args.clients = [int(c) for c in args.clients.split(",") if c]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown or not args.scenarios:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {','.join(SCENARIOS)}")
    if not args.clients or min(args.clients) < 1 or args.duration < 1 or args.repeat < 1:
        parser.error("--clients, --duration and --repeat must be positive")
    if not 0 <= args.rss_users <= RSS_USERS_MAX:
        parser.error(f"--rss-users must be 0..{RSS_USERS_MAX}")
    if not 1 <= args.users <= 20:
        parser.error("--users must be 1..20 (bench/setup-users makes bench01..bench20)")
    return args


def main() -> int:
    args = parse_args()
    say("$ " + shlex.join([os.path.relpath(PYTHON, ROOT) if PYTHON.startswith(str(ROOT)) else PYTHON,
                           os.path.relpath(os.path.abspath(sys.argv[0]), ROOT), *sys.argv[1:]]))  # fmt: skip
    if os.geteuid() != 0:
        fail("run as root (it reads the testbed's user CA and writes under /scratch)")
    # SIGTERM (and SIGHUP) end the bench like Ctrl-C does: through the finally blocks.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    env = testbed_settings()
    check_testbed()
    nofile = raise_nofile()
    if args.rss_users:
        return rss_figure(args.rss_users, env)
    wrk_binary = ensure_wrk()
    spy = py_spy_binary() if args.profile else None
    users = ["fireuser"] if args.users == 1 else [f"bench{i:02d}" for i in range(1, args.users + 1)]
    missing = [u for u in users if subprocess.run(["id", u], capture_output=True, check=False).returncode]
    if missing:
        fail(f"users {', '.join(missing)} are missing: run bench/setup-users")
    wants_ceiling = {s for s in args.scenarios if s in CEILING_OF}
    with_runner_ceiling = args.runner != "off"
    ssh_ceilings = len({"ls", "stat"} & wants_ceiling) * (2 if with_runner_ceiling else 1)
    runs_per_round = len(args.scenarios) * len(args.clients) + ssh_ceilings \
        + (len(args.clients) if "systems" in wants_ceiling else 0)  # fmt: skip
    budget_min = int(runs_per_round * args.repeat * (args.duration + 15) / 60) + 15
    signal.signal(signal.SIGALRM, over_budget)
    signal.alarm(budget_min * 60)  # the whole run is bounded; the finally blocks still clean up
    say(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {os.cpu_count()} CPUs; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; RLIMIT_NOFILE {nofile}; "
        f"{subprocess.run([wrk_binary, '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")  # fmt: skip

    results: dict[tuple[str, int], list[Run]] = collections.defaultdict(list)
    with contextlib.ExitStack() as stack:
        tmp = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="f7t-bench-http-")))
        if args.users == 1:
            sshd = Sshd(int(env["F7T_SSH_PORT"]), pathlib.Path(env["F7T_SSH_KNOWN_HOSTS"]),
                        pathlib.Path(env["F7T_SSH_USER_CA_KEY"]), testbed_sshd_pid(env))  # fmt: skip
        else:
            sshd = stack.enter_context(bench_sshd(tmp, env, users))
        directory = stack.enter_context(small_dir(distinct=args.distinct))
        if args.split_cores:
            say(f"split cores: {stack.enter_context(split_cores(sshd.pid))}")
        port = free_port()
        base = f"http://{HOST}:{port}"
        config = server_config(tmp, port, sshd, [*users, "fireuser"], token_ttl=budget_min * 60 + 600,
                               runner=args.runner)  # fmt: skip
        server = stack.enter_context(started(
            [PYTHON, "-m", "f7tproxy", "serve", "--config", str(config)], "f7tproxy", tmp / "server.log",
            f"{base}/status/liveness/",
        ))  # fmt: skip
        admin = Admin(tmp / "admin.sock")
        proxy = Server(server.pid, admin, tuple(users), tmp / "access.log", tmp / "audit.log", f"{base}/metrics",
                       sshd.pid)  # fmt: skip
        tokens = [get_token(base, u) for u in users]
        job_id = stack.enter_context(bench_job(base, get_token(base, "fireuser"), budget_min))
        paths = {
            "ls": f"/filesystem/{SYSTEM}/ops/ls?path={urllib.parse.quote(str(directory))}",
            "stat": f"/filesystem/{SYSTEM}/ops/stat?path={urllib.parse.quote(str(directory / 'file00.txt'))}",
            "jobs": f"/compute/{SYSTEM}/jobs",
            "job": f"/compute/{SYSTEM}/jobs/{job_id}",
            "userinfo": f"/status/{SYSTEM}/userinfo",
            "systems": "/status/systems",
        }
        variants: dict[str, list[str]] = collections.defaultdict(list)
        for sub in distinct_dirs(directory) if args.distinct else ():
            variants["ls"].append(f"/filesystem/{SYSTEM}/ops/ls?path={urllib.parse.quote(str(sub))}")
            variants["stat"].append(f"/filesystem/{SYSTEM}/ops/stat?path={urllib.parse.quote(str(sub / 'file00.txt'))}")
        for name, some in variants.items():
            paths[name] = some[0]  # (the directory itself also holds the subdirectories: the ceiling runs one of these)
        for name, path in paths.items():  # every scenario answers, for every user, before timing
            for user, token in zip(users, tokens):
                status, body = http("GET", base + path, token=token)
                if status != 200:
                    fail(f"{name} as {user}: {status} {body[:300]!r}")
        systems_body = tmp / "systems.json"
        systems_body.write_bytes(http("GET", base + paths["systems"], token=tokens[0])[1])
        plain = Plain(sshd, tuple(users), args.duration)
        command_timeout = config_from_yaml(config).clusters[0].ssh.pool.command_timeout
        argvs = {"asyncssh ls": audited_argv(tmp / "audit.log", "find"),
                 "asyncssh stat": audited_argv(tmp / "audit.log", "stat")}  # fmt: skip
        commands = {name: remote_command(argv, timeout=command_timeout) for name, argv in argvs.items()}
        bare_port = free_port()
        bare = stack.enter_context(started(
            [PYTHON, str(ROOT / "bench/bare_app.py"), "--port", str(bare_port), "--body", str(systems_body)],
            "bare app", tmp / "bare.log", f"http://{HOST}:{bare_port}/status/systems",
        ))  # fmt: skip
        wrk = Wrk(wrk_binary, args.duration, tmp)
        # warm-up: the pool's connections (and runners) open
        wrk.run(base + paths["ls"], min(50, max(args.clients)), tokens, variants["ls"])
        say(f"f7tproxy pid {server.pid} on {base}, sshd 127.0.0.1:{sshd.port}, users {', '.join(users)}, "
            f"job {job_id}, directory {directory} ({DIR_ENTRIES} files"
            f"{f'; ls and stat rotate over {DISTINCT} subdirectories' if args.distinct else ''})")  # fmt: skip
        for name, command in commands.items():
            say(f"{name}: {command}")
        if with_runner_ceiling:
            say("runner ls / runner stat: the same argv without `timeout` (the runner applies the deadline), "
                "sent to one of f7tproxy's runners per slot through f7tproxy's own SSH layer")  # fmt: skip
        cipher = ""
        say(f"{args.repeat} rounds of {runs_per_round} runs of {args.duration} s (stopped if not done in {budget_min} min)\n")

        for rnd in range(1, args.repeat + 1):
            for name in args.scenarios:
                for clients in args.clients:
                    r = measure_http(wrk, base + paths[name], clients, tokens, proxy, variants.get(name, ()))
                    results[(name, clients)].append(r)
                    say(f"round {rnd} (load {os.getloadavg()[0]:.2f}): {line(name, clients, r)}")
            for name in ("ls", "stat"):
                if name in args.scenarios:
                    ceiling = CEILING_OF[name]
                    proxy.settle()
                    r, cipher = asyncio.run(plain_case(plain, commands[ceiling], CEILING_CALLERS))
                    results[(ceiling, CEILING_CALLERS)].append(r)
                    say(f"round {rnd} (load {os.getloadavg()[0]:.2f}): {line(ceiling, CEILING_CALLERS, r)}")
                    if with_runner_ceiling:
                        row = RUNNER_ROW[ceiling]
                        proxy.settle()
                        r = trio.run(runner_case, plain, argvs[ceiling], command_timeout, CEILING_CALLERS)
                        results[(row, CEILING_CALLERS)].append(r)
                        say(f"round {rnd} (load {os.getloadavg()[0]:.2f}): {line(row, CEILING_CALLERS, r)}")
            if "systems" in args.scenarios:
                for clients in args.clients:
                    url = f"http://{HOST}:{bare_port}{paths['systems']}"
                    r = measure_http(wrk, url, clients, tokens, Server(bare.pid))
                    results[("bare", clients)].append(r)
                    say(f"round {rnd}: {line('bare', clients, r)}")
        if spy is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            for name in args.scenarios:
                for clients in args.clients:
                    say(f"\nprofile of f7tproxy, {name} at {clients} clients (py-spy, untimed):")
                    profile_http(spy, wrk, base + paths[name], clients, tokens, proxy,
                                 args.profile / f"{name}-{clients}.txt", variants.get(name, ()))  # fmt: skip

    say(f"\nmedians of {args.repeat} rounds of {args.duration} s; f7tproxy with conf/demo.yaml's pool "
        f"and ssh.runner {args.runner or 'as configured'}{', distinct paths' if args.distinct else ''}"
        f"{', split cores (gateway side and login node on separate CPUs)' if args.split_cores else ''} "
        f"({CONNECTIONS} connections × {SESSIONS} sessions per user), {len(users)} user(s); "
        f"asyncssh ceiling: {CEILING_CALLERS} callers, same pool shape, cipher {cipher or 'n/a'}; "
        f"{'runner rows: the SSH layer of f7tproxy (trio-asyncio) with one runner per slot, no HTTP; ' if with_runner_ceiling else ''}"
        f"bare = Quart-Trio on hypercorn's trio worker, fixed /status/systems body. "
        f"CPU is the server's (the asyncssh client's for the asyncssh rows), per request answered; "
        f"non-2xx is wrk's count [the server's statuses, all rounds]; cut off: requests in flight when wrk stopped; "
        f"ratios are to the ceiling (asyncssh at {CEILING_CALLERS} callers for ls/stat, bare at the same clients for systems).\n")  # fmt: skip
    say(HEADER)
    for name in args.scenarios:
        for clients in args.clients:
            key = CEILING_OF.get(name)
            ceiling_runs = results.get((key, clients if key == "bare" else CEILING_CALLERS)) if key else None
            say(line(name, clients, median(results[(name, clients)]), median(ceiling_runs) if ceiling_runs else None))
    for name in ("asyncssh ls", "runner ls", "asyncssh stat", "runner stat"):
        if results.get((name, CEILING_CALLERS)):
            say(line(name, CEILING_CALLERS, median(results[(name, CEILING_CALLERS)])))
    if "systems" in args.scenarios:
        for clients in args.clients:
            say(line("bare", clients, median(results[("bare", clients)])))
    return 0


def rss_mib(pid: int) -> float:
    """Resident memory of process `pid`, MiB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    fail(f"no VmRSS for pid {pid}")


def rss_figure(count: int, env: dict[str, str]) -> int:
    """f7tproxy's memory with `count` users each holding one pooled connection (bench01..)."""
    users = [f"bench{i:02d}" for i in range(1, count + 1)]
    made = [u for u in users if subprocess.run(["id", u], capture_output=True, check=False).returncode]
    signal.signal(signal.SIGALRM, over_budget)
    signal.alarm(30 * 60)
    try:
        if made:
            say(f"making {len(made)} users with bench/setup-users --count {count} (removed again at the end)")
            subprocess.run([ROOT / "bench/setup-users", "--count", str(count)], check=True, timeout=900)
        with contextlib.ExitStack() as stack:
            tmp = pathlib.Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="f7t-bench-rss-")))
            sshd = stack.enter_context(bench_sshd(tmp, env, ["bench*"]))
            directory = stack.enter_context(small_dir())
            port = free_port()
            base = f"http://{HOST}:{port}"
            pool = {"max_connections": count + 16, "idle_timeout": 1800}  # every user's connection stays
            config = server_config(tmp, port, sshd, [*users, "fireuser"], token_ttl=3600, pool=pool)
            server = stack.enter_context(started(
                [PYTHON, "-m", "f7tproxy", "serve", "--config", str(config)], "f7tproxy", tmp / "server.log",
                f"{base}/status/liveness/",
            ))  # fmt: skip
            admin = Admin(tmp / "admin.sock")
            before = rss_mib(server.pid)
            url = f"{base}/filesystem/{SYSTEM}/ops/stat?path={urllib.parse.quote(str(directory / 'file00.txt'))}"

            def one(user: str) -> int:
                return http("GET", url, token=get_token(base, user))[0]

            started_at = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(20) as workers:
                statuses = collections.Counter(workers.map(one, users))
            if set(statuses) != {200}:
                fail(f"ops/stat answers: {dict(statuses)}")
            wait_until("every user holding a connection",
                       lambda: sum(p["connections"] >= 1 for p in admin.pools(users)) == count, timeout=60)  # fmt: skip
            took = time.monotonic() - started_at
            pools = admin.pools(users)
            after = rss_mib(server.pid)
            say(f"f7tproxy pid {server.pid}, sshd 127.0.0.1:{sshd.port}: {count} users made {count} requests "
                f"in {took:.1f} s (20 at a time)")  # fmt: skip
            say(f"RSS with {count} distinct users each holding a pooled connection "
                f"({sum(p['connections'] for p in pools)} connections open): {after:.0f} MiB "
                f"(before any: {before:.0f} MiB; {(after - before) * 1024 / count:.0f} KiB per user)")  # fmt: skip
    finally:
        for user in made:
            subprocess.run(["userdel", "-r", user], capture_output=True, check=False, timeout=60)
        if made:
            say(f"removed the {len(made)} users it made")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench/http_bench.py: interrupted; everything it started is stopped", file=sys.stderr)
        sys.exit(130)
