"""The event-stream routes in process (no cluster): declared in /openapi.json, inputs checked first."""

from __future__ import annotations

import trio

from f7tproxy.config import EventsConfig

from ..api.inprocess import app_over
from ..auth import tokens
from ..ssh.fakes import FakeServer
from .test_watcher import Scripted


async def test_routes_are_declared_and_check_their_inputs() -> None:
    async with app_over(FakeServer(slots=1, duration=0, connect_delay=0)) as (runtime, client):
        document = await (await client.get("/openapi.json")).get_json()
        for path in ("/compute/{system_name}/jobs/{job_id}/events", "/compute/{system_name}/jobs/{job_id}/output"):
            op = document["paths"][path]["get"]
            assert "f7tproxy extension" in op["summary"]
            assert set(op["responses"]["200"]["content"]) == {"text/event-stream"}
            assert "Last-Event-ID" in {p["name"] for p in op["parameters"]}
        headers = {"Authorization": f"Bearer {tokens.sign()}"}
        bad = await client.get("/compute/fake/jobs/7/output", query_string={"stream": "stdin"}, headers=headers)
        assert bad.status_code == 400 and (await bad.get_json())["errorType"] == "validation"
        unknown = await client.get("/compute/fake/jobs/not-a-job/events", headers=headers)
        assert unknown.status_code == 404 and (await unknown.get_json())["message"] == "Job not found."
        assert runtime.events.statistics().watchers == ()  # refused before any watcher started


async def test_a_job_stream_over_http_in_process() -> None:
    """The route, its body and the watcher together (Quart-Trio's test client, a scripted scheduler)."""
    async with app_over(FakeServer(slots=4, duration=0, connect_delay=0)) as (runtime, client):
        backend = Scripted()
        runtime.schedulers["fake"].backend = backend
        runtime.events.config = EventsConfig(interval=0.2, keepalive=0.5)
        headers = {"Authorization": f"Bearer {tokens.sign()}"}
        backend.states["7"] = "PENDING"
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.events.run)
            with trio.fail_after(30):
                async with client.request("/compute/fake/jobs/7/events", headers=headers) as stream:
                    await stream.send_complete()
                    assert (await stream.receive()).startswith(b'event: job\nid: 1\ndata: {"jobId":"7"')
                    assert stream.status_code == 200
                    assert stream.headers["Content-Type"] == "text/event-stream; charset=utf-8"
                    assert stream.headers["Cache-Control"] == "no-cache"
                    assert await stream.receive() == b": keep-alive\n\n"
                    backend.states["7"], backend.exit_codes["7"] = "COMPLETED", 0
                    data = b""
                    while b"COMPLETED" not in data:
                        data = await stream.receive()
                    assert data.startswith(b"event: job\nid: 2\n") and b'"exitCode":0' in data
                # A listener that leaves before the end: its watcher ends with it.
                backend.states["8"] = "RUNNING"
                # (The test client waits for a last body message after a disconnect: leave by cancelling.)
                with trio.CancelScope() as leave:
                    async with client.request("/compute/fake/jobs/8/events", headers=headers) as stream:
                        await stream.send_complete()
                        assert b'"state":"RUNNING"' in await stream.receive()
                        assert runtime.events.statistics().watchers[0].job_streams == 1
                        await stream.disconnect()
                        while runtime.events.statistics().watchers:
                            await trio.sleep(0.05)
                        leave.cancel()
            nursery.cancel_scope.cancel()
