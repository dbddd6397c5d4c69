#!/usr/bin/env python3
"""Start time of the zipapp to a live /status/liveness/ answer: cold and warm, median of N runs.

    python3 bench/zipapp_start.py [--zipapp dist/f7tproxy.pyz] [--runs 5] [--python /usr/bin/python3.11]

Cold: a fresh, empty SHIV_ROOT each run (the zipapp unpacks what must be files:
its extension modules). Warm: one SHIV_ROOT, already unpacked. Each run starts
`python3 -I f7tproxy.pyz serve` from a temporary directory with a small config on
port 0 and times from process start to the first 200 from liveness, then stops
it with SIGTERM. Standard library only; build the zipapp first (scripts/build-zipapp).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request

REPO = pathlib.Path(__file__).resolve().parent.parent
GOOD = REPO / "tests" / "config" / "good"
READY = re.compile(rb"f7tproxy serving on (http://[^\s,]+)")


def start_once(python: str, zipapp: pathlib.Path, workdir: pathlib.Path, shiv_root: pathlib.Path) -> float:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "SHIV_ROOT": str(shiv_root), "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [python, "-I", str(zipapp), "serve", "--config", str(workdir / "f7tproxy.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=workdir,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the zipapp exited before serving")
            if m := READY.search(line):
                url = m.group(1).decode()
        while True:
            try:
                with urllib.request.urlopen(f"{url}/status/liveness/", timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description="zipapp start time to a live liveness answer")
    parser.add_argument("--zipapp", type=pathlib.Path, default=REPO / "dist" / "f7tproxy.pyz")
    parser.add_argument("--runs", type=int, default=5)
    default_python = "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else "python3.11"
    parser.add_argument("--python", default=default_python)
    args = parser.parse_args()

    zipapp = args.zipapp.resolve()
    with tempfile.TemporaryDirectory(prefix="f7tproxy-bench-") as tmp:
        work = pathlib.Path(tmp)
        for name in ("known_hosts", "alice.key"):
            shutil.copy(GOOD / name, work / name)
        (work / "f7tproxy.yaml").write_text((GOOD / "minimal.yaml").read_text() + "server:\n  port: 0\n")
        cold = [start_once(args.python, zipapp, work, work / f"cold-{n}") for n in range(args.runs)]
        warm_root = work / "warm"
        start_once(args.python, zipapp, work, warm_root)  # unpack once
        warm = [start_once(args.python, zipapp, work, warm_root) for _ in range(args.runs)]
        unpacked = sum(f.stat().st_size for f in warm_root.rglob("*") if f.is_file())

    print(f"zipapp     {zipapp} ({zipapp.stat().st_size / 1e6:.1f} MB, unpacked {unpacked / 1e6:.0f} MB)")
    print(f"python     {args.python} -I, {args.runs} runs each")
    print(f"cold start {statistics.median(cold):.2f} s median  (runs: {', '.join(f'{t:.2f}' for t in cold)})")
    print(f"warm start {statistics.median(warm):.2f} s median  (runs: {', '.join(f'{t:.2f}' for t in warm)})")


if __name__ == "__main__":
    main()
