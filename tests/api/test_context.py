"""The request context in process: inputs are checked before an SSH lease is taken."""

from __future__ import annotations

import trio

from f7tproxy.api import create_app
from f7tproxy.auth import LocalKeySource
from f7tproxy.config import Config
from f7tproxy.runtime import Runtime
from f7tproxy._aio import asyncio_loop

from ..auth import tokens
from ..health.inprocess import with_test_auth
from ..ssh.fakes import FakeServer, cluster

LEASE_TIMEOUT = 30.0
"""Far longer than an answer may take here: a request that waits for the lease shows."""


async def test_malformed_job_id_answers_without_waiting_for_a_lease() -> None:
    # A 1x1 pool: one connection of one session, for everyone.
    pool = {"sessions_per_connection": 1, "max_connections_per_user": 1, "max_connections": 1,
            "lease_timeout": LEASE_TIMEOUT}  # fmt: skip
    config = with_test_auth(Config(clusters=(cluster("fake", **pool),)))
    runtime = Runtime.build(
        config,
        key_source=LocalKeySource(lambda: tokens.jwks(), "test keys"),
        connectors={"fake": FakeServer(slots=1, duration=0, connect_delay=0)},
        probes={},
    )
    headers = {"Authorization": f"Bearer {tokens.sign()}"}
    async with asyncio_loop(), trio.open_nursery() as nursery:
        await nursery.start(runtime.pool.run)
        await nursery.start(runtime.auth.run)
        app = create_app(runtime)
        async with app.test_app() as test_app, runtime.pool.lease("fake", "alice", None):
            client = test_app.test_client()
            requests = [
                ("GET", "/compute/fake/jobs/not-a-job", None),
                ("GET", "/compute/fake/jobs/12;id/metadata", None),
                ("PUT", "/compute/fake/jobs/x1/attach", {"command": "true"}),
                ("DELETE", "/compute/fake/jobs/%C2%B9", None),
            ]
            for method, path, body in requests:
                with trio.fail_after(LEASE_TIMEOUT / 3):
                    response = await client.open(path, method=method, json=body, headers=headers)
                assert response.status_code == 404, (method, path)
                assert (await response.get_json())["message"] == "Job not found."
            # The only slot is still held: a well-formed id waits for it (and gives up here).
            with trio.move_on_after(0.5) as waited:
                await client.get("/compute/fake/jobs/123", headers=headers)
            assert waited.cancelled_caught
        nursery.cancel_scope.cancel()
