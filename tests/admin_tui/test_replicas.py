"""The dashboard over several replicas' sockets: one row each, side by side, with totals."""

from __future__ import annotations

import asyncio
import copy
import pathlib

import pytest

from admin_tui import ReplicasApp
from admin_tui.widgets import ReplicasTable

from .canned import SNAPSHOT, canned_server
from .test_snapshots import until


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_two_replicas_and_a_missing_one_side_by_side_with_totals() -> None:
    second = copy.deepcopy(SNAPSHOT)
    second["requests"]["total"] = 766
    second["pools"] = second["pools"][:1]
    second["systems"][0]["connections"] = 2
    second["systems"][0]["breaker"]["state"] = "closed"
    second["systems"][0]["health"] = [h for h in second["systems"][0]["health"] if h["healthy"]]
    paths = [pathlib.Path("a.sock"), pathlib.Path("b.sock"), pathlib.Path("gone.sock")]

    async def main() -> list[list[str]]:
        async with canned_server(paths[0]), canned_server(paths[1], second):
            app = ReplicasApp(paths, interval=3600)
            async with app.run_test(size=(160, 20)) as pilot:
                await until(pilot, lambda: all(app.state[str(p)][1] != "connecting..." for p in paths), "answers")
                table = app.query_one(ReplicasTable)
                return [[str(c) for c in table.get_row(key)] for key in ("a.sock", "b.sock", "gone.sock", "total")]

    a, b, gone, total = asyncio.run(main())
    # per replica: state, version, uptime, SSH connections, slots in use, waiting, requests, rate, health
    assert a[:8] == ["a.sock", "up", "0.1.0", "1h02m", "3", "5", "3", "1234"]
    assert a[9] == "cluster-slurm: scheduler, breaker open"
    assert b[:8] == ["b.sock", "up", "0.1.0", "1h02m", "2", "5", "0", "766"]
    assert b[9] == "all healthy"
    assert gone[1] == "OFFLINE" and "gone.sock" in gone[9]
    assert total[:8] == ["total", "2/3 up", "", "", "5", "10", "3", "2000"]
    assert total[9] == "1 replica(s) see an unhealthy service"
