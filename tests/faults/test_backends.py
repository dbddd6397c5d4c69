"""The scheduler and the S3 staging store fail under load: their routes fail fast, the others go on."""

from __future__ import annotations

import pathlib

import pytest
import trio

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote
from .conftest import Call, Load, figures, server_errors, ls_call, outage, quiet_processes, settled_pool, user_processes

pytestmark = [pytest.mark.testbed, pytest.mark.faults]

OUTAGE = 8.0


def _clean(fig: dict[str, object], gateway: Gateway) -> None:
    assert fig["bare_500"] == 0 and fig["dropped_or_timeout"] == 0, (fig, server_errors(gateway))
    assert fig["errors_without_retry_after_during"] == 0, fig


async def test_slurmctld_stopped(testbed: Testbed, gateway: Gateway, tmp_path: pathlib.Path) -> None:
    jobs = Call("jobs", "GET", f"/compute/{SYSTEM}/jobs")
    load = Load(gateway.url, gateway.token(), [ls_call(), jobs], clients=30)
    async with trio.open_nursery() as n:
        n.start_soon(load.run)
        fault_at, _, restored_at = await outage(testbed, "slurmctld", OUTAGE)
        await trio.sleep(5.0)
        load.stop()
    ls = figures("slurmctld stopped: ls", load.samples, fault_at, restored_at, kinds=["ls"])
    fig = figures("slurmctld stopped: compute jobs", load.samples, fault_at, restored_at, kinds=["jobs"])
    _clean(ls, gateway)
    _clean(fig, gateway)
    assert set(ls["during"]) == {"200"}, ls  # the file system does not need the scheduler
    # squeue hangs (not fails) while slurmctld is away: a slow command wakes the probes, and
    # once `scontrol ping` says DOWN the gate answers 503 at once, and the requests already
    # running are cancelled (their squeue killed) and answered 503 too, not left to time out.
    assert set(fig["during"]) <= {"503", "504", "200"}, fig
    assert fig["slowest_during"] <= 4.0, fig
    assert fig["during"].get("503", 0) > 0, fig  # type: ignore[attr-defined]
    assert fig["slowest_refused_after_gate"] <= 2.0, fig
    assert fig["recovery_s"] is not None and fig["recovery_s"] <= 3.0, fig
    await settled_pool(tmp_path)
    assert await quiet_processes() == []


async def test_s3_stopped(testbed: Testbed, gateway: Gateway, tmp_path: pathlib.Path) -> None:
    target = f"/home/fireuser/fault-upload-{trio.current_time():.0f}"
    upload = Call("upload", "POST", f"/filesystem/{SYSTEM}/transfer/upload", ok=(201,), json={
        "path": target, "transferDirectives": {"transferMethod": "s3", "fileSize": 10},
    })  # fmt: skip
    token = gateway.token()
    ls = Load(gateway.url, token, [ls_call()], clients=20)
    # Each accepted upload submits a staging job: newcomers only, two a second.
    uploads = Load(gateway.url, token, [upload], clients=0, arrival_every=0.5)
    try:
        async with trio.open_nursery() as n:
            n.start_soon(ls.run)
            n.start_soon(uploads.run)
            fault_at, down_at, restored_at = await outage(testbed, "s3", OUTAGE)
            await trio.sleep(5.0)
            ls.stop()
            uploads.stop()
    finally:
        await trio.to_thread.run_sync(lambda: remote(testbed, "scancel -u fireuser; true"))
    fls = figures("s3 stopped: ls", ls.samples, fault_at, restored_at)
    fig = figures("s3 stopped: transfer upload", uploads.samples, fault_at, restored_at)
    _clean(fls, gateway)
    _clean(fig, gateway)
    assert set(fls["during"]) == {"200"}, fls
    # 424: the first failures, before the probe saw it. 201: an upload that started while the
    # store was being stopped and reached it before it was gone.
    served = [(round(s.t0 - fault_at, 3), round(down_at - fault_at, 3)) for s in uploads.samples
              if fault_at <= s.t0 < restored_at and s.status == 201]  # fmt: skip
    assert all(t0 < down for t0, down in served), (served, fig)
    assert set(fig["during"]) <= {"503", "504", "424", "201"}, fig
    assert fig["during"].get("503", 0) > 0, fig  # type: ignore[attr-defined]
    assert fig["slowest_during"] <= 2.0, fig
    assert fig["recovery_s"] is not None and fig["recovery_s"] <= 3.0, fig
    await settled_pool(tmp_path)
    with trio.move_on_after(10):
        while user_processes():
            await trio.sleep(0.5)
    assert await quiet_processes() == []
