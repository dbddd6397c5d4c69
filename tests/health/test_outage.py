"""Requests in flight on a service that turns unhealthy are cancelled and answered 503 at once."""

from __future__ import annotations

import pytest
import trio

from f7tproxy.errors import ServiceUnavailable
from f7tproxy.health import Outages


async def test_an_outage_cancels_the_requests_in_flight_on_that_service_only(autojump_clock: trio.abc.Clock) -> None:
    outages = Outages()
    outcomes: dict[str, object] = {}

    async def request(name: str, services: tuple[str, ...], work: float) -> None:
        try:
            with outages.watch("c1", services):  # type: ignore[arg-type]
                await trio.sleep(work)
            outcomes[name] = "done"
        except ServiceUnavailable as exc:
            outcomes[name] = (trio.current_time(), exc.message, exc.retry_after)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(request, "squeue", ("ssh", "scheduler"), 10.0)
        nursery.start_soon(request, "ls", ("ssh",), 10.0)
        nursery.start_soon(request, "quick", ("ssh", "scheduler"), 0.5)
        await trio.sleep(2.0)
        assert outages.in_flight("c1", "scheduler") == 1 and outages.in_flight("c1", "ssh") == 2
        assert outages.outage("c1", "scheduler", "scheduler down", retry_after=1.5) == 1
    assert outcomes["quick"] == "done" and outcomes["ls"] == "done"
    assert outcomes["squeue"] == (pytest.approx(2.0), "scheduler down", 2)
    assert outages.in_flight("c1", "ssh") == 0 and outages.in_flight("c1", "scheduler") == 0


async def test_an_outage_after_the_block_ended_changes_nothing() -> None:
    outages = Outages()
    with outages.watch("c1", ("ssh",)):
        pass
    assert outages.outage("c1", "ssh", "down", retry_after=1) == 0
