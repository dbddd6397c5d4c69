"""The dashboard's screens as SVG snapshots, from a fixed snapshot document (no real server)."""

from __future__ import annotations

import asyncio
import copy
import pathlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from admin_tui import AdminApp

from .canned import SNAPSHOT, canned_server
from .screens import assert_matches

SIZE = (120, 44)
WIDTHS = [120, 160, 200]
"""The operators' terminals: every column of every table must show in full at these widths."""

T = TypeVar("T")


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


def connected(
    check: Callable[[AdminApp, Pilot[None]], Coroutine[Any, Any, T]],
    *, size: tuple[int, int] = SIZE, snapshot: dict[str, Any] | None = None,
) -> T:  # fmt: skip
    """Run `check(app, pilot)` once the dashboard shows `snapshot` (the canned one by default)."""

    async def main() -> T:
        path = pathlib.Path("admin.sock")
        async with canned_server(path, snapshot):
            app = AdminApp(path, interval=3600)
            async with app.run_test(size=size) as pilot:
                await until(pilot, lambda: app.connected, "first snapshot")
                await pilot.pause()
                return await check(app, pilot)

    return asyncio.run(main())


async def screenshot(app: AdminApp, pilot: Pilot[None]) -> str:
    return app.export_screenshot(title=f"dashboard {app.size.width}x{app.size.height}")


@pytest.mark.parametrize("width", [80, *WIDTHS])
def test_dashboard_screen(width: int) -> None:
    assert_matches(f"dashboard_{width}", connected(screenshot, size=(width, 44)))


@pytest.mark.parametrize("width", WIDTHS)
def test_every_column_shows_in_full(width: int) -> None:
    async def overflow(app: AdminApp, pilot: Pilot[None]) -> dict[str, int]:
        tables = [t for t in app.query(DataTable) if t.display]
        assert {t.id for t in tables} == {"systems", "pools", "endpoints", "errors", "uploads"}
        # a table wider than its room scrolls sideways: whatever is past the edge is cut off
        return {
            str(t.id): sum(c.get_render_width(t) for c in t.columns.values()) - t.scrollable_content_region.width
            for t in tables
        }

    assert {id: cut for id, cut in connected(overflow, size=(width, 44)).items() if cut > 0} == {}


def test_endpoints_show_p99_error_rate_and_commands_per_request() -> None:
    async def rows(app: AdminApp, pilot: Pilot[None]) -> list[list[str]]:
        table: DataTable[Any] = app.query_one("#endpoints", DataTable)
        return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]

    assert connected(rows) == [
        ["/compute/<system>/jobs", "GET", "900", "3.50", "2", "0.2%", "30.0 ms", "80.0 ms", "200.0 ms", "2.00"],
        ["/status/systems", "GET", "334", "0.50", "0", "0.0%", "1.0 ms", "2.0 ms", "4.0 ms", "0.00"],
        ["/compute/{system}/jobs/{job_id}/metadata", "GET", "41", "0.05", "7", "17.1%", "145.0 ms", "1.25 s", "12.50 s",
         "0.73"],
        ["/filesystem/{system}/transfer/upload", "POST", "0", "0.00", "0", "-", "-", "-", "-", "-"],
    ]  # fmt: skip


def test_sharing_lines_show_coalesced_cached_and_full_pools() -> None:
    async def lines(app: AdminApp, pilot: Pilot[None]) -> list[str]:
        return str(app.query_one("#sharing", Static).render()).splitlines()

    assert connected(lines) == [
        "cluster-slurm: coalesced 430 (41%) · cached 90 (90%) · 429 full 12",
        "all systems: 1.44 remote commands per request; tokens from the cache 95 (95%)",
    ]


def test_breakers_and_waiting_uploads() -> None:
    async def shown(app: AdminApp, pilot: Pilot[None]) -> tuple[list[list[str]], list[list[str]], str]:
        systems: DataTable[Any] = app.query_one("#systems", DataTable)
        uploads: DataTable[Any] = app.query_one("#uploads", DataTable)
        return (
            [[str(cell) for cell in systems.get_row_at(i)[:4]] for i in range(systems.row_count)],
            [[str(cell) for cell in uploads.get_row_at(i)] for i in range(uploads.row_count)],
            str(uploads.border_title),
        )

    systems, uploads, title = connected(shown)
    assert systems == [
        ["cluster-slurm", "OPEN 2m05s, 5 failures", "2", "ssh"],
        ["", "", "", "scheduler"],
        ["", "", "", "filesystem /home"],
        ["", "", "", "s3"],
        ["cluster-pbs", "closed", "0", "-"],
    ]
    assert uploads == [  # longest waiting first; a path too long for 120 columns is cut, the columns before it stay
        ["cluster-slurm", "alice", "4238", "5m35s",
         "/home/alice/projects/climate-downscaling/ensemble-member-017/boundary-condi…"],
        ["cluster-slurm", "fireuser", "4242", "15s", "/home/fireuser/inputs/run-2026-01-02/particles.h5"],
    ]  # fmt: skip
    assert title == "Waiting uploads (2)"


def test_a_server_without_breakers_or_uploads() -> None:
    older = copy.deepcopy(SNAPSHOT)
    for system in older["systems"]:
        del system["breaker"], system["waiting_uploads"]

    async def shown(app: AdminApp, pilot: Pilot[None]) -> tuple[list[str], bool]:
        systems: DataTable[Any] = app.query_one("#systems", DataTable)
        return [str(cell) for cell in systems.get_row_at(0)[:3]], app.query_one("#uploads").display

    assert connected(shown, snapshot=older) == (["cluster-slurm", "-", "-"], False)


def test_check_now_asks_for_the_system_of_the_row_under_the_cursor() -> None:
    async def checked(app: AdminApp, pilot: Pilot[None]) -> list[str]:
        systems: DataTable[Any] = app.query_one("#systems", DataTable)
        asked: list[str] = []
        for row in (1, 4):  # the scheduler of cluster-slurm (no system name on its row), then cluster-pbs
            systems.move_cursor(row=row)
            await pilot.press("c")
            await until(pilot, lambda: len(app.command_log) == len(asked) + 1, "the check-now answer")
            asked.append(app.command_log[-1])
        return asked

    assert connected(checked) == ["checked cluster-slurm: all healthy", "checked cluster-pbs: all healthy"]


def test_pool_table_sorted_by_failures_descending() -> None:
    async def sorted_by_errors(app: AdminApp, pilot: Pilot[None]) -> tuple[list[str], str]:
        pools = app.query_one("#pools")
        pools.sort_by("failures")  # type: ignore[attr-defined]
        pools.sort_by("failures")  # type: ignore[attr-defined]
        await pilot.pause()
        users = [str(pools.get_row_at(i)[1]) for i in range(pools.row_count)]  # type: ignore[attr-defined]
        return users, app.export_screenshot(title="pools by errors")

    users, svg = connected(sorted_by_errors)
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


def test_event_streams_show_while_there_are_any() -> None:
    with_streams = copy.deepcopy(SNAPSHOT)
    with_streams["streams"] = [
        {"system": "cluster-slurm", "user": "fireuser", "job_streams": 100, "output_streams": 3, "jobs": 20,
         "files": 2, "polls": 41, "commands": 123, "errors": 1, "last_error": "squeue failed", "age": 40.0},
    ]  # fmt: skip

    async def shown(app: AdminApp, pilot: Pilot[None]) -> tuple[list[str], str, bool]:
        streams: DataTable[Any] = app.query_one("#streams", DataTable)
        return [str(cell) for cell in streams.get_row_at(0)], str(streams.border_title), streams.display

    assert connected(shown, snapshot=with_streams) == (
        ["cluster-slurm", "fireuser", "100", "3", "20", "2", "41", "123", "1", "squeue failed"],
        "Event streams (103)", True,
    )  # fmt: skip
    assert connected(lambda app, pilot: _displayed(app, "#streams")) is False  # the canned snapshot has none


async def _displayed(app: AdminApp, selector: str) -> bool:
    return bool(app.query_one(selector).display)
