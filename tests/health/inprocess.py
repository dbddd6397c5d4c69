"""An in-process app with a real HealthChecker, and routes that stand for handlers using each service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import attrs
import trio
from quart import request
from quart.typing import TestClientProtocol

from f7tproxy.api import create_app
from f7tproxy.auth import LocalKeySource
from f7tproxy.config import Config
from f7tproxy.health import Probe
from f7tproxy.runtime import Runtime
from f7tproxy._aio import asyncio_loop

from ..auth import tokens

JWKS_URL = "http://127.0.0.1:9/unused"
AUTH: dict[str, Any] = {"jwks_url": JWKS_URL, "issuer": tokens.ISSUER, "audiences": [tokens.AUDIENCE]}


def with_test_auth(config: Config) -> Config:
    """`config` with token validation against the auth tests' signing key."""
    from f7tproxy.config import AuthConfig

    return attrs.evolve(config, auth=AuthConfig(
        jwks_url=JWKS_URL, issuer=tokens.ISSUER, audiences=(tokens.AUDIENCE,),
    ))


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.sign()}"}


@attrs.define
class App:
    client: TestClientProtocol
    runtime: Runtime

    async def get(self, path: str) -> tuple[int, Any, Any]:
        return await self.send("GET", path)

    async def send(self, method: str, path: str, json: Any = None) -> tuple[int, Any, Any]:
        response = await self.client.open(path, method=method, json=json, headers=bearer())
        return response.status_code, await response.get_json(), response.headers


@contextlib.asynccontextmanager
async def in_process(
    config: Config, *, probes: Mapping[str, Sequence[Probe]] | None = None, start_pool: bool = False
) -> AsyncIterator[App]:
    """The app over `config` with its health checker running (and the SSH pool, if `start_pool`).

    Adds `GET /compute/<system>/probe` (SSH gate from the hook, then the scheduler
    gate) and `GET /filesystem/<system>/probe?path=P` (the file system gate).
    """
    config = with_test_auth(config)
    runtime = Runtime.build(config, key_source=LocalKeySource(lambda: tokens.jwks(), "test keys"), probes=probes)
    async with asyncio_loop(), trio.open_nursery() as nursery:
        await nursery.start(runtime.auth.run)
        runtime.auth.bound(["http://f7tproxy.test"])
        if start_pool:
            await nursery.start(runtime.pool.run)
        await nursery.start(runtime.health.run)
        app = create_app(runtime)

        @app.get("/compute/<system>/probe")
        async def compute_probe(system: str) -> dict[str, str]:
            runtime.health.gate(system, "scheduler")
            return {"ok": system}

        @app.get("/filesystem/<system>/probe")
        async def filesystem_probe(system: str) -> dict[str, str]:
            runtime.health.gate_path(system, request.args["path"])
            return {"ok": system}

        async with app.test_app() as test_app:
            yield App(test_app.test_client(), runtime)
        nursery.cancel_scope.cancel()
