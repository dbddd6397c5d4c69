"""An in-process f7tproxy app (Quart test client) with a route that records being reached."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import trio
from quart.typing import TestClientProtocol

from f7tproxy import config as config_mod
from f7tproxy.api import create_app, current_user
from f7tproxy.api._context import current_system
from f7tproxy.auth import Auth, KeySource, OpenFgaAuthorizer
from f7tproxy.observability import Metrics
from f7tproxy.runtime import Runtime
from f7tproxy._aio import asyncio_loop

GOOD = pathlib.Path(__file__).parent.parent / "config" / "good"


def make_config(
    auth: Mapping[str, Any], clusters: tuple[str, ...] = ("cluster-a", "cluster-b"), **sections: Any
) -> config_mod.Config:
    """A config with `auth`, clusters that are never contacted (no SSH in these tests) and `sections`."""
    return config_mod.from_mapping(
        {
            **sections,
            "auth": dict(auth),
            "clusters": [
                {
                    "name": name,
                    "ssh": {"host": "127.0.0.1", "port": 2222, "known_hosts": "known_hosts",
                            "credentials": {"mode": "static_keys"}},
                    "file_systems": [{"path": "/home", "default_work_dir": True}],
                }
                for name in clusters
            ],
        },
        base_dir=GOOD,
    )


@attrs.define
class InProcess:
    client: TestClientProtocol
    auth: Auth
    reached: list[tuple[str, str]]
    """(user, system) for every request that got past authentication into the probe route."""


@contextlib.asynccontextmanager
async def in_process(
    config: config_mod.Config,
    *,
    key_source: KeySource | None = None,
    authorizer: OpenFgaAuthorizer | None = None,
    metrics: Metrics | None = None,
) -> AsyncIterator[InProcess]:
    """Start `Auth` and the app in this trio run; add `GET /compute/<system>/probe`."""
    runtime = Runtime.build(config, key_source=key_source, authorizer=authorizer, metrics=metrics)
    auth = runtime.auth
    async with asyncio_loop(), trio.open_nursery() as nursery:
        await nursery.start(auth.run)
        auth.bound(["http://f7tproxy.test"])
        app = create_app(runtime)
        reached: list[tuple[str, str]] = []

        @app.get("/compute/<system>/probe")
        async def probe(system: str) -> dict[str, str]:
            # Stands for any handler that would take an SSH lease.
            current_system()  # 404 for an unknown system
            reached.append((current_user().name, system))
            return {"user": current_user().name}

        async with app.test_app() as test_app:
            yield InProcess(client=test_app.test_client(), auth=auth, reached=reached)
        nursery.cancel_scope.cancel()
