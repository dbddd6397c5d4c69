"""Two f7tproxy replicas behind the testbed's HAProxy, sharing the testbed's Redis.

The replicas listen on the ports HAProxy balances over (F7T_LB_REPLICA_PORTS); they
share the demo issuer's signing key and public URL (the balancer's), so a token from
either is valid on both. `fireuser2` has a small per-user limit for the rate-limit test.
"""

from __future__ import annotations

import pathlib
import signal
import socket
import time
import uuid
from typing import Any

import attrs
import yaml
from joserfc.jwk import RSAKey

from ..api.conftest import token
from ..conftest import Testbed
from ..gateway import gateway_config
from ..server_process import ServerProcess

BOTH = {"replica1", "replica2"}
"""HAProxy's names of the two replicas."""
LIMITED_USER = "fireuser2"
LIMIT_BURST = 6


def replica_config(testbed: Testbed, tmp: pathlib.Path, port: int, prefix: str) -> dict[str, Any]:
    config = gateway_config(testbed)
    lb = testbed.env["F7T_LB_URL"]
    config["server"] = {
        "bind": "127.0.0.1", "port": port, "public_url": lb, "admin_socket": str(tmp / f"admin-{port}.sock"),
        "shutdown_grace": 10, "drain_delay": 1.5,
    }  # fmt: skip
    config["auth"]["demo_issuer"]["key_file"] = str(tmp / "issuer.pem")
    config["rate_limit"] = {"users": {LIMITED_USER: {"rate": 0.01, "burst": LIMIT_BURST}}}
    config["events"] = {"interval": 1, "fast_interval": 0.5, "keepalive": 5}
    # a prefix of this run's own: buckets and records of an earlier run do not count
    config["shared_state"] = {"redis": {"url": testbed.env["F7T_REDIS_URL"], "timeout": 0.25, "key_prefix": prefix}}
    return config


@attrs.define
class Replicas:
    """The two replicas (by index 0, 1), restartable; the balancer's URL and runtime API."""

    testbed: Testbed
    tmp: pathlib.Path
    ports: list[int]
    procs: list[ServerProcess | None] = attrs.Factory(lambda: [None, None])
    prefix: str = attrs.Factory(lambda: f"f7t-test-{uuid.uuid4().hex[:8]}:")

    @property
    def lb_url(self) -> str:
        return self.testbed.env["F7T_LB_URL"]

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self, i: int) -> None:
        config = self.tmp / f"replica{i}.yaml"
        if not (self.tmp / "issuer.pem").exists():
            (self.tmp / "issuer.pem").write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
        config.write_text(yaml.safe_dump(replica_config(self.testbed, self.tmp, self.ports[i], self.prefix)))
        proc = ServerProcess(config, start_timeout=60)
        proc.__enter__()
        self.procs[i] = proc

    def stop(self, i: int, signum: int = signal.SIGTERM) -> int:
        proc = self.procs[i]
        assert proc is not None
        self.procs[i] = None
        return proc.stop(signum, timeout=30)

    def _stat(self) -> list[list[str]]:
        """HAProxy's `show stat` rows of the replicas (CSV fields: 4 scur, 17 status)."""
        rows = [line.split(",") for line in self.balancer("show stat").splitlines()]
        return [f for f in rows if len(f) > 17 and f[0] == "replicas" and f[1].startswith("replica")]

    def balancer_state(self) -> dict[str, str]:
        """HAProxy's view of each replica: replica1/replica2 -> UP, DOWN, MAINT..."""
        return {f[1]: f[17] for f in self._stat()}

    def in_flight(self, i: int) -> int:
        """Requests HAProxy has on replica `i` now (its current sessions)."""
        return next(int(f[4] or 0) for f in self._stat() if f[1] == f"replica{i + 1}")

    def wait_balanced(self, up: set[str], timeout: float = 30) -> None:
        """Wait until HAProxy sees exactly `up` (e.g. {"replica1", "replica2"}) as UP."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.balancer_state()
            if {k for k, v in state.items() if v.startswith("UP")} == up:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"balancer state {state}, wanted {sorted(up)} up")
            time.sleep(0.2)

    def balancer(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.testbed.env["F7T_LB_SOCKET"])
            s.sendall(command.encode() + b"\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data.decode()

    def token(self, user: str = "fireuser") -> str:
        """A token from a running replica's demo issuer (valid on both)."""
        return token(next(p for p in self.procs if p is not None), user)

    def close(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc is not None:
                self.procs[i] = None
                proc.__exit__(None, None, None)
