"""Benchmark: f7tproxy's SSH pool against plain asyncssh on plain asyncio.

    sudo bench/setup-users                     # once: login users bench01..bench20
    .venv/bin/python bench/pool.py             # as root; --repeat N, --quick

Both sides run the same remote command line (what the pool sends for
``["true"]``: ``exec timeout --kill-after=2s 32s true``) against the same sshd,
for 1, 10 and 100 concurrent callers over 1 and 20 users, and the figures are
commands/s, p50 and p99 latency (from asking for a slot to having the result)
and errors. Each case runs --repeat times, interleaved; the medians are printed.

- pool: `PoolSupervisor` under trio + trio-asyncio, ssh_ca credentials,
  sessions_per_connection = MaxSessions - 1, up to 4 connections per user.
- plain: asyncssh on asyncio, one connection per user (opened before timing),
  at most MaxSessions - 1 commands at once on it (a semaphore), no retries.

The benchmark starts its own sshd on 127.0.0.1:2223 with the testbed's settings
(MaxSessions 64, MaxStartups 200:30:400, UsePAM no, UseDNS no), its own host key
and its own user CA, in a temporary directory, and stops it at the end, so the
shared testbed is not touched.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence

import asyncssh
import attrs
import trio

from f7tproxy.config import ClusterConfig, PoolConfig, Secret, SshCaCredentials, SshConfig
from f7tproxy._aio import asyncio_loop
from f7tproxy.ssh import PoolSupervisor, remote_command

HOST = "127.0.0.1"
PORT = 2223
MAX_SESSIONS = 64
USERS = [f"bench{i:02d}" for i in range(1, 21)]
COMMAND = remote_command(["true"], timeout=30)

SSHD_CONFIG = """\
Port {port}
ListenAddress {host}
HostKey {dir}/host_key
PidFile {dir}/sshd.pid
LogLevel ERROR
TrustedUserCAKeys {dir}/ca.pub
PubkeyAuthentication yes
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PermitRootLogin no
AllowUsers bench*
MaxSessions {max_sessions}
MaxStartups 200:30:400
X11Forwarding no
PrintMotd no
"""


# --------------------------------------------------------------------------- sshd


@attrs.frozen
class BenchSshd:
    dir: pathlib.Path
    pid: int

    @property
    def known_hosts(self) -> pathlib.Path:
        return self.dir / "known_hosts"

    @property
    def ca(self) -> pathlib.Path:
        return self.dir / "ca"


def start_sshd(tmp: pathlib.Path) -> BenchSshd:
    for name in ("host_key", "ca"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / name)], check=True)
    (tmp / "sshd_config").write_text(SSHD_CONFIG.format(port=PORT, host=HOST, dir=tmp, max_sessions=MAX_SESSIONS))
    host_pub = (tmp / "host_key.pub").read_text().split()
    (tmp / "known_hosts").write_text(f"[{HOST}]:{PORT} {host_pub[0]} {host_pub[1]}\n")
    os.makedirs("/run/sshd", exist_ok=True)
    config = str(tmp / "sshd_config")
    subprocess.run(["/usr/sbin/sshd", "-t", "-f", config], check=True, timeout=30)
    subprocess.run(["/usr/sbin/sshd", "-f", config, "-E", str(tmp / "sshd.log")], check=True, timeout=30)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection((HOST, PORT), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return BenchSshd(tmp, int((tmp / "sshd.pid").read_text()))


def stop_sshd(sshd: BenchSshd) -> None:
    # The listener only; its per-connection children end with their connections.
    os.kill(sshd.pid, signal.SIGTERM)


# --------------------------------------------------------------------------- measuring


@attrs.frozen
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int


def figures(latencies: Sequence[float], elapsed: float, errors: int) -> Figures:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return Figures(len(latencies) / elapsed, pct(0.50), pct(0.99), errors)


Once = Callable[[str], Awaitable[bool]]
"""Run one command as the user; True if it succeeded."""


@attrs.define
class Driver:
    """Runs `total` commands from `callers` concurrent loops; caller i acts as user i mod len(users)."""

    users: Sequence[str]
    callers: int
    total: int
    started: int = 0
    latencies: list[float] = attrs.Factory(list)
    errors: int = 0

    async def caller(self, i: int, once: Once, now: Callable[[], float]) -> None:
        user = self.users[i % len(self.users)]
        while self.started < self.total:
            self.started += 1
            t = now()
            try:
                ok = await once(user)
            except Exception as exc:
                print(f"  error: {exc!r}", file=sys.stderr)
                ok = False
            self.latencies.append(now() - t)
            self.errors += not ok


RUNNER = "auto"
"""The pool's ssh.runner (--runner)."""


async def pool_case(sshd: BenchSshd, users: Sequence[str], callers: int, total: int) -> Figures:
    cluster = ClusterConfig(
        name="bench",
        ssh=SshConfig(
            host=HOST, port=PORT, known_hosts=sshd.known_hosts,
            credentials=SshCaCredentials(mode="ssh_ca", ca_key=Secret(sshd.ca.read_text())),
            pool=PoolConfig(
                sessions_per_connection=MAX_SESSIONS - 1, max_connections_per_user=4,
                lease_timeout=120, command_timeout=30,
            ),
            runner=RUNNER,
        ),
    )  # fmt: skip

    async with asyncio_loop(), trio.open_nursery() as nursery:
        pool = PoolSupervisor([cluster])
        await nursery.start(pool.run)

        async def once(user: str) -> bool:
            async with pool.lease("bench", user) as lease:
                return (await lease.run(["true"], timeout=30)).ok

        async def drive(driver: Driver) -> float:
            t0 = time.perf_counter()
            async with trio.open_nursery() as n:
                for i in range(driver.callers):
                    n.start_soon(driver.caller, i, once, time.perf_counter)
            return time.perf_counter() - t0

        await drive(Driver(users, callers, callers))  # warm-up: connections opened
        driver = Driver(users, callers, total)
        elapsed = await drive(driver)
        nursery.cancel_scope.cancel()
    return figures(driver.latencies, elapsed, driver.errors)


async def plain_case(sshd: BenchSshd, users: Sequence[str], callers: int, total: int) -> Figures:
    ca = asyncssh.read_private_key(str(sshd.ca))
    conns: dict[str, asyncssh.SSHClientConnection] = {}
    limits: dict[str, asyncio.Semaphore] = {}
    for user in users:
        key = asyncssh.generate_private_key("ssh-ed25519")
        cert = ca.generate_user_certificate(key, user, principals=[user], valid_before="+1h")
        conns[user] = await asyncssh.connect(
            HOST, PORT, username=user, client_keys=[(key, cert)], known_hosts=str(sshd.known_hosts),
            config=None, agent_path=None,
        )  # fmt: skip
        limits[user] = asyncio.Semaphore(MAX_SESSIONS - 1)

    async def once(user: str) -> bool:
        async with limits[user]:
            return (await conns[user].run(COMMAND)).exit_status == 0

    async def drive(driver: Driver) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(driver.caller(i, once, time.perf_counter) for i in range(driver.callers)))
        return time.perf_counter() - t0

    try:
        await drive(Driver(users, callers, callers))
        driver = Driver(users, callers, total)
        elapsed = await drive(driver)
    finally:
        for conn in conns.values():
            conn.close()
            await conn.wait_closed()
    return figures(driver.latencies, elapsed, driver.errors)


def run_pool(sshd: BenchSshd, users: Sequence[str], callers: int, total: int) -> Figures:
    return trio.run(pool_case, sshd, users, callers, total)


def run_plain(sshd: BenchSshd, users: Sequence[str], callers: int, total: int) -> Figures:
    return asyncio.run(plain_case(sshd, users, callers, total))


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; medians are printed (default 3)")
    parser.add_argument("--quick", action="store_true", help="fewer commands per run")
    parser.add_argument("--runner", choices=("auto", "off"), default="auto",
                        help="the pool's ssh.runner (default auto: a persistent runner per slot)")  # fmt: skip
    args = parser.parse_args()
    global RUNNER
    RUNNER = args.runner
    if os.geteuid() != 0:
        print("bench/pool.py: run as root (it starts its own sshd)", file=sys.stderr)
        return 1
    missing = [u for u in USERS if subprocess.run(["id", u], capture_output=True).returncode]
    if missing:
        print(f"bench/pool.py: users {missing[0]}.. are missing: run bench/setup-users", file=sys.stderr)
        return 1
    scale = 0.25 if args.quick else 1.0
    cases = [(n_users, callers) for n_users in (1, 20) for callers in (1, 10, 100)]
    results: dict[tuple[str, int, int], list[Figures]] = {}
    with tempfile.TemporaryDirectory(prefix="f7t-bench-") as tmp:
        os.chmod(tmp, 0o755)
        sshd = start_sshd(pathlib.Path(tmp))
        try:
            for rep in range(args.repeat):
                for n_users, callers in cases:
                    total = int(max(200, callers * 20) * scale)
                    for name, run in (("pool", run_pool), ("plain", run_plain)):
                        f = run(sshd, USERS[:n_users], callers, total)
                        results.setdefault((name, n_users, callers), []).append(f)
                        print(f"run {rep + 1}: {name:5} users={n_users:2} callers={callers:3} "
                              f"{f.rate:7.1f}/s p50={f.p50_ms:6.1f} ms p99={f.p99_ms:6.1f} ms errors={f.errors}",
                              file=sys.stderr, flush=True)
        finally:
            stop_sshd(sshd)

    print(f"\nmedians of {args.repeat} runs (command: {COMMAND!r}, sshd MaxSessions {MAX_SESSIONS}, "
          f"pool ssh.runner {RUNNER})")
    print(f"{'users':>5} {'callers':>7} | {'pool cmd/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | "
          f"{'plain cmd/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | {'ratio':>5}")
    for n_users, callers in cases:
        row = []
        for name in ("pool", "plain"):
            runs = results[(name, n_users, callers)]
            row.append((
                statistics.median(f.rate for f in runs),
                statistics.median(f.p50_ms for f in runs),
                statistics.median(f.p99_ms for f in runs),
                sum(f.errors for f in runs),
            ))  # fmt: skip
        (pr, p50, p99, perr), (ar, a50, a99, aerr) = row
        print(f"{n_users:>5} {callers:>7} | {pr:>10.1f} {p50:>7.1f} {p99:>7.1f} {perr:>4} | "
              f"{ar:>11.1f} {a50:>7.1f} {a99:>7.1f} {aerr:>4} | {pr / ar:>5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
