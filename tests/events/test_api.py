"""The event-stream routes in process (no cluster): declared in /openapi.json, inputs checked first."""

from __future__ import annotations

from ..api.inprocess import app_over
from ..auth import tokens
from ..ssh.fakes import FakeServer


async def test_routes_are_declared_and_check_their_inputs() -> None:
    async with app_over(FakeServer(slots=1, duration=0, connect_delay=0)) as (runtime, client):
        document = await (await client.get("/openapi.json")).get_json()
        for path in ("/compute/{system}/jobs/{job_id}/events", "/compute/{system}/jobs/{job_id}/output"):
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
