"""A bare Quart-Trio app on hypercorn's trio worker: the HTTP ceiling for bench/http_bench.py.

    .venv/bin/python bench/bare_app.py --port PORT --body FILE

It answers `GET /status/systems` with the JSON document in FILE (parsed once,
encoded on every request, as f7tproxy's routes do) and nothing else: no
authentication, middleware, logs or metrics. hypercorn is configured as
f7tproxy configures it (no access log, no Server header). Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
from typing import Any

import hypercorn.config
import hypercorn.trio
import trio
from quart_trio import QuartTrio


def make_app(body: dict[str, Any]) -> QuartTrio:
    app = QuartTrio(__name__)

    @app.get("/status/systems")
    async def systems() -> dict[str, Any]:
        return body

    return app


async def serve(port: int, body: dict[str, Any]) -> None:
    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.include_server_header = False
    config.graceful_timeout = 2
    stop = trio.Event()
    async with trio.open_nursery() as nursery:

        async def on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    stop.set()
                    return

        nursery.start_soon(on_signal)
        await hypercorn.trio.serve(make_app(body), config, shutdown_trigger=stop.wait)
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", required=True, help="file holding the JSON document to answer")
    args = parser.parse_args()
    with open(args.body, encoding="utf-8") as f:
        body = json.load(f)
    trio.run(serve, args.port, body)


if __name__ == "__main__":
    main()
