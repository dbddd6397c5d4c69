"""The dashboard's screens as SVG snapshots, from a fixed snapshot document (no real server)."""

from __future__ import annotations

import asyncio
import pathlib

import pytest
from textual.pilot import Pilot

from admin_tui import AdminApp

from .canned import canned_server
from .screens import assert_matches

SIZE = (140, 44)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The socket path is on screen: a relative one keeps the screens the same from run to run.
    monkeypatch.chdir(tmp_path)


async def until(pilot: Pilot[None], condition: object, what: str, *, timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds (bounded)."""
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await pilot.pause(0.05)
    await pilot.pause()


def test_dashboard_screen() -> None:
    async def main() -> str:
        path = pathlib.Path("admin.sock")
        async with canned_server(path):
            app = AdminApp(path, interval=3600)
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: app.connected, "first snapshot")
                return app.export_screenshot(title="dashboard")

    assert_matches("dashboard", asyncio.run(main()))


def test_pool_table_sorted_by_failures_descending() -> None:
    async def main() -> tuple[list[str], str]:
        path = pathlib.Path("admin.sock")
        async with canned_server(path):
            app = AdminApp(path, interval=3600)
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: app.connected, "first snapshot")
                pools = app.query_one("#pools")
                pools.sort_by("failures")  # type: ignore[attr-defined]
                pools.sort_by("failures")  # type: ignore[attr-defined]
                await pilot.pause()
                users = [str(pools.get_row_at(i)[1]) for i in range(pools.row_count)]  # type: ignore[attr-defined]
                return users, app.export_screenshot(title="pools by errors")

    users, svg = asyncio.run(main())
    assert users == ["alice", "fireuser", "firesrv"]
    assert_matches("pools_by_errors", svg)


def test_offline_screen() -> None:
    async def main() -> str:
        app = AdminApp(pathlib.Path("missing.sock"), interval=3600)
        async with app.run_test(size=SIZE) as pilot:
            offline = app.query_one("#offline")
            await until(pilot, lambda: "no admin socket" in str(offline.render()), "offline notice")
            return app.export_screenshot(title="offline")

    assert_matches("offline", asyncio.run(main()))
