"""The IdP hangs (SIGSTOP: its JWKS accepts connections and never answers) under load."""

from __future__ import annotations

import pathlib
import signal

import pytest
import trio

from ..auth.conftest import AUDIENCE, Idp, idp, idp_installed  # noqa: F401  (fixtures)
from ..conftest import Testbed
from ..gateway import Gateway
from .conftest import Load, fault_config, figures, ls_call, running_gateway, settled_pool

pytestmark = [pytest.mark.testbed, pytest.mark.faults]

JWKS_TIMEOUT = 2.0


async def test_jwks_unreachable(testbed: Testbed, idp: Idp, tmp_path: pathlib.Path) -> None:
    config = fault_config(testbed, tmp_path)
    config["auth"] = {"issuer": idp.issuer, "audiences": [AUDIENCE], "jwks_refetch_interval": 0,
                      "jwks_timeout": JWKS_TIMEOUT}  # fmt: skip
    with running_gateway(config, tmp_path) as gw:
        await _jwks_unreachable(gw, idp, tmp_path)


async def _jwks_unreachable(gw: Gateway, idp: Idp, tmp_path: pathlib.Path) -> None:
    cached = await trio.to_thread.run_sync(idp.token)  # signed with the key f7tproxy loaded at start
    await trio.to_thread.run_sync(idp.rotate)
    new_kid = await trio.to_thread.run_sync(idp.token)  # a kid f7tproxy has not seen
    old = Load(gw.url, cached, [ls_call()], clients=20)
    new = Load(gw.url, new_kid, [ls_call()], clients=0, arrival_every=0.25)
    async with trio.open_nursery() as n:
        n.start_soon(old.run)
        await trio.sleep(2.0)
        fault_at = trio.current_time()
        try:
            idp.proc.send_signal(signal.SIGSTOP)
            n.start_soon(new.run)
            await trio.sleep(6.0)
        finally:
            idp.proc.send_signal(signal.SIGCONT)
        restored_at = trio.current_time()
        await trio.sleep(4.0)
        old.stop()
        new.stop()
    cached_fig = figures("IdP hung: tokens of a cached key", old.samples, fault_at, restored_at)
    fig = figures("IdP hung: tokens of a new kid", new.samples, fault_at, restored_at)
    for f in (cached_fig, fig):
        assert f["bare_500"] == 0 and f["dropped_or_timeout"] == 0, f
    # Cached keys keep serving while the IdP hangs. (Once it answers again, f7tproxy takes its
    # rotated set, which no longer has the old key: a request still in flight then gets 401.)
    answered_during = [s for s in old.samples if fault_at <= s.t0 and s.t1 < restored_at]
    assert answered_during and {s.status for s in answered_during} == {200}, cached_fig
    # never a hang: a refetch is bounded by jwks_timeout; the answer says why
    # (200: requests that started near the end and were answered after the IdP came back)
    assert set(fig["during"]) <= {"200", "401", "503"}, fig
    assert fig["during"].get("401", 0) + fig["during"].get("503", 0) > 0, fig  # type: ignore[attr-defined]
    assert fig["slowest_during"] <= JWKS_TIMEOUT + 1.5, fig
    assert fig["after"].get("200", 0) > 0 and fig["recovery_s"] is not None, fig  # type: ignore[attr-defined]
    await settled_pool(tmp_path)
