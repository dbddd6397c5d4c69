"""The dashboard driven by Textual's Pilot against a real `f7tproxy serve` on the testbed."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot

from admin_tui import AdminApp

from ..conftest import Testbed
from ..server_process import ServerProcess

pytestmark = pytest.mark.testbed

WAIT = 60.0


def write_config(tmp_path: pathlib.Path, testbed: Testbed) -> pathlib.Path:
    path = tmp_path / "f7tproxy.yaml"
    path.write_text(f"""
server: {{port: 0, admin_socket: {tmp_path / "admin.sock"}, shutdown_grace: 2}}
auth: {{jwks_url: "http://127.0.0.1:9/jwks"}}
clusters:
  - name: testbed
    ssh:
      host: 127.0.0.1
      port: 2222
      known_hosts: {testbed.known_hosts}
      credentials: {{mode: ssh_ca, ca_key: {{file: {testbed.user_ca}}}}}
    service_account: firesrv
    file_systems: [{{path: /home}}]
    probes: {{interval: 5, services: {{ssh: {{timeout: 5}}, scheduler: {{timeout: 5}}, filesystem: {{timeout: 5}}}}}}
""")
    return path


async def until(pilot: Pilot[None], condition: Callable[[], Any], what: str) -> None:
    try:
        async with asyncio.timeout(WAIT):
            while not condition():
                await pilot.pause(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def health(app: AdminApp, service: str) -> bool | None:
    if app.snapshot is None:
        return None
    [system] = app.snapshot["systems"]
    return next((h["healthy"] for h in system["health"] if h["serviceType"] == service), None)


def test_dashboard_follows_a_real_server_through_a_restart(tmp_path: pathlib.Path, testbed: Testbed) -> None:
    config = write_config(tmp_path, testbed)

    async def main() -> None:
        server = await asyncio.to_thread(ServerProcess(config).__enter__)
        try:
            app = AdminApp(tmp_path / "admin.sock", interval=0.2)
            async with app.run_test(size=(140, 44)) as pilot:
                await until(pilot, lambda: health(app, "ssh") is True, "the ssh probe's first result")
                await until(pilot, lambda: health(app, "scheduler") is True, "the scheduler probe's first result")

                # requests show up per endpoint
                for _ in range(3):
                    await asyncio.to_thread(httpx.get, f"{server.url}/status/liveness/", timeout=10)
                await until(pilot, lambda: any(
                    e["endpoint"] == "/status/liveness/" and e["count"] == 3
                    for e in (app.snapshot or {})["requests"]["endpoints"]
                ), "the liveness requests in the snapshot")

                # c: check now, on the system under the cursor
                await pilot.press("c")
                await until(pilot, lambda: app.command_log, "the check-now answer")
                # (the shared testbed may have a part down for another test: do not insist on "all healthy")
                assert app.command_log[-1].startswith("checked testbed: "), app.command_log

                # d: drain the service account's connections (the probes' user)
                pools = app.query_one("#pools")
                await until(pilot, lambda: pools.row_count > 0, "a pool row")  # type: ignore[attr-defined]
                assert pools.selected == ("testbed", "firesrv")  # type: ignore[attr-defined]
                await pilot.press("d")
                await until(pilot, lambda: len(app.command_log) == 2, "the drain answer")
                assert app.command_log[-1].startswith("drain firesrv on testbed: ")

                # s: sort the pool table by the next column
                await pilot.press("s")
                assert pools.sort_column == "user"  # type: ignore[attr-defined]

                # the server stops: a clear offline screen; it comes back: the dashboard reconnects
                assert await asyncio.to_thread(server.stop) == 0
                await until(pilot, lambda: not app.connected, "the offline screen")
                assert app.query_one("#switcher").current == "offline"  # type: ignore[attr-defined]
                server = await asyncio.to_thread(ServerProcess(config).__enter__)
                await until(pilot, lambda: app.connected, "reconnection")
                assert app.query_one("#switcher").current == "dashboard"  # type: ignore[attr-defined]

                await pilot.press("q")
                await until(pilot, lambda: not app.is_running, "the app to quit")
        finally:
            await asyncio.to_thread(server.__exit__, None, None, None)

    asyncio.run(main())
