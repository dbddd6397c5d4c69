"""`f7tproxy serve`: the root nursery and everything started in it.

    trio-asyncio loop             around everything: asyncssh and openfga-sdk run on it
    └── root nursery
        ├── signal watcher        SIGINT/SIGTERM -> liveness 503, drain delay, graceful shutdown
        ├── SharedStore           the Redis client of `shared_state` (if configured)
        ├── PoolSupervisor        per-user SSH connections and leases
        ├── Auth                  signing keys (JWKS), OpenFGA client
        ├── HealthChecker         one probe loop per (system, service)
        ├── Staging               per system with a store: forgets uploads no longer waiting
        ├── JobWatchers           one watcher per (system, user) with open event streams
        ├── AdminServer           the admin socket (mode 0600) for the dashboard
        └── hypercorn (trio)      the Quart-Trio app

Every part is started with `await nursery.start(part.run)`, so that the HTTP
API only opens once every part it needs can serve.
"""

from __future__ import annotations

import logging
import signal

import hypercorn.config
import hypercorn.trio
import trio

from ._aio import asyncio_loop
from .admin import AdminServer
from .api import create_app
from .config import Config
from .runtime import Runtime

log = logging.getLogger(__name__)


def _hypercorn_config(config: Config) -> hypercorn.config.Config:
    hc = hypercorn.config.Config()
    host = config.server.bind
    hc.bind = [f"[{host}]:{config.server.port}" if ":" in host else f"{host}:{config.server.port}"]
    hc.graceful_timeout = config.server.shutdown_grace
    hc.root_path = config.server.root_path
    hc.accesslog = None  # the access log is ours (JSON), not hypercorn's
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.include_server_header = False
    return hc


async def serve(
    config: Config,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run f7tproxy until SIGINT or SIGTERM, then shut down within the grace period.

    Reports the bound URLs through `task_status` once the API accepts requests.
    Raises ConfigError (before anything starts) if a cluster's SSH credentials cannot be used.
    """
    runtime = Runtime.build(config)
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with asyncio_loop(), trio.open_nursery() as root:

            async def watch_signals() -> None:
                async for signum in signals:
                    delay, grace = config.server.drain_delay, config.server.shutdown_grace
                    log.info("received %s, shutting down (liveness failing for %.1f s, then grace %.0f s)",
                             signal.Signals(signum).name, delay, grace)
                    # Past the drain delay and the grace period (plus a little for closing), stop waiting.
                    root.cancel_scope.deadline = trio.current_time() + delay + grace + 2
                    # First the load balancer's health check sees us go; requests it still
                    # sends meanwhile are served. Then the listener closes and in-flight
                    # requests get the grace period. A second signal skips the delay.
                    runtime.draining = True
                    with trio.move_on_after(delay):
                        await signals.__anext__()
                    stop.set()
                    runtime.events.stop()  # event streams send `shutdown` and end, so the API can drain
                    return

            root.start_soon(watch_signals)
            await root.start(runtime.pool.run)
            await root.start(runtime.auth.run)
            if runtime.shared is not None:
                await root.start(runtime.shared.run)
            await root.start(runtime.health.run)
            for staging in runtime.staging.values():
                await root.start(staging.run)
            await root.start(runtime.events.run)
            await root.start(AdminServer(runtime, config.server.admin_socket).run)
            app = create_app(runtime)

            async def serve_api(*, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
                await hypercorn.trio.serve(
                    app, _hypercorn_config(config), shutdown_trigger=stop.wait, task_status=task_status
                )
                # The API has closed and drained: the long-lived parts (pool, auth, ...) stop too;
                # the pool closes its connections as it is cancelled.
                root.cancel_scope.cancel()

            binds = await root.start(serve_api)
            runtime.auth.bound(binds)
            log.info("f7tproxy serving on %s", ", ".join(binds))
            task_status.started(binds)
            await stop.wait()
            # hypercorn has returned or is draining requests (bounded by graceful_timeout);
            # once it returns the nursery's other tasks are cancelled below.
        # leaving the nursery block: all tasks are done
    log.info("f7tproxy stopped")
