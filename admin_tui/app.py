"""AdminApp: the dashboard's layout, keys and workers; the widgets do the drawing."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import ContentSwitcher, Footer

from .client import AdminClient, AdminUnavailable, CommandFailed
from .messages import CommandDone, Disconnected, SnapshotReceived
from .widgets import BREAKPOINTS, Dashboard, Offline, PoolTable, ReplicasTable, StatusBar, SystemsTable


class AdminApp(App[None]):
    """Shows one f7tproxy server's systems, pools, requests, uploads and errors, refreshed every `interval` seconds."""

    TITLE = "f7tproxy admin"
    CSS = """
    #switcher { height: 1fr; }
    """
    HORIZONTAL_BREAKPOINTS = BREAKPOINTS
    BINDINGS = [
        Binding("d", "drain", "Drain user"),
        Binding("c", "check_now", "Check now"),
        Binding("s", "sort", "Sort pools"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, socket_path: pathlib.Path, *, interval: float = 1.0) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.interval = interval
        self.connected = False
        self.snapshot: dict[str, Any] | None = None
        self.command_log: list[str] = []
        """What each finished command said, oldest first (also shown as a notification)."""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with ContentSwitcher(initial="offline", id="switcher"):
            yield Dashboard(id="dashboard")
            yield Offline(id="offline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Offline).show(str(self.socket_path), "connecting...")
        self.query_one(StatusBar).show_offline(str(self.socket_path))
        self.poll()

    # ------------------------------------------------------------------ workers

    @work(exclusive=True, group="poll")
    async def poll(self) -> None:
        """Ask for a snapshot every `interval` seconds, forever; (re)connect as needed."""
        client = AdminClient(self.socket_path)
        try:
            while True:
                try:
                    self.post_message(SnapshotReceived(await client.request(cmd="snapshot")))
                except (AdminUnavailable, CommandFailed) as exc:
                    self.post_message(Disconnected(str(exc)))
                await asyncio.sleep(self.interval)
        finally:
            await client.close()

    @work(group="command")
    async def command(self, request: dict[str, Any], describe: Callable[[Any], str]) -> None:
        """Send one command on its own connection (the poller's stays free)."""
        client = AdminClient(self.socket_path, timeout=60)
        try:
            result = await client.request(**request)
            self.post_message(CommandDone(describe(result)))
        except (AdminUnavailable, CommandFailed) as exc:
            self.post_message(CommandDone(str(exc), error=True))
        finally:
            await client.close()

    # ------------------------------------------------------------------ messages

    @on(SnapshotReceived)
    def _show(self, message: SnapshotReceived) -> None:
        self.snapshot, self.connected = message.snapshot, True
        self.query_one(ContentSwitcher).current = "dashboard"
        self.query_one(StatusBar).show_snapshot(str(self.socket_path), message.snapshot)
        self.query_one(Dashboard).show(message.snapshot)

    @on(Disconnected)
    def _offline(self, message: Disconnected) -> None:
        self.connected = False
        self.query_one(Offline).show(str(self.socket_path), message.reason)
        self.query_one(StatusBar).show_offline(str(self.socket_path))
        self.query_one(ContentSwitcher).current = "offline"

    @on(CommandDone)
    def _done(self, message: CommandDone) -> None:
        self.command_log.append(message.text)
        self.notify(message.text, severity="error" if message.error else "information")

    # ------------------------------------------------------------------ actions

    def action_drain(self) -> None:
        """Close the selected user's connections on the selected system (once idle)."""
        selected = self.query_one(PoolTable).selected
        if not self.connected or selected is None:
            self.notify("select a user in the pool table first", severity="warning")
            return
        system, user = selected
        self.command(
            {"cmd": "drain", "system": system, "user": user},
            lambda r: f"drain {r['user']} on {r['system']}: {r['connections']} connection(s) closing",
        )

    def action_check_now(self) -> None:
        """Run the selected system's probes now."""
        system = self.query_one(SystemsTable).selected_system
        if not self.connected or system is None:
            self.notify("no system to check", severity="warning")
            return

        def describe(result: dict[str, Any]) -> str:
            bad = [h["serviceType"] for h in result["health"] if h["healthy"] is False]
            return f"checked {result['system']}: " + (f"unhealthy: {', '.join(bad)}" if bad else "all healthy")

        self.command({"cmd": "check-now", "system": system}, describe)

    def action_sort(self) -> None:
        self.query_one(PoolTable).next_sort()


def run(socket_path: pathlib.Path) -> None:
    """Run the dashboard in this terminal until the operator quits."""
    AdminApp(socket_path).run()


class ReplicasApp(App[None]):
    """Several f7tproxy replicas (one admin socket each) side by side, with totals; refreshed every `interval` s."""

    TITLE = "f7tproxy admin: replicas"
    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, socket_paths: list[pathlib.Path], *, interval: float = 1.0) -> None:
        super().__init__()
        self.socket_paths = socket_paths
        self.interval = interval
        self.state: dict[str, tuple[dict[str, Any] | None, str]] = {str(p): (None, "connecting...") for p in socket_paths}

    def compose(self) -> ComposeResult:
        yield ReplicasTable(id="replicas")
        yield Footer()

    def on_mount(self) -> None:
        self._refresh_table()
        for path in self.socket_paths:
            self.poll(path)

    @work(group="poll")
    async def poll(self, path: pathlib.Path) -> None:
        """One replica's snapshots every `interval` seconds, forever; (re)connect as needed."""
        client = AdminClient(path)
        try:
            while True:
                try:
                    self.state[str(path)] = (await client.request(cmd="snapshot"), "")
                except (AdminUnavailable, CommandFailed) as exc:
                    self.state[str(path)] = (None, str(exc))
                self._refresh_table()
                await asyncio.sleep(self.interval)
        finally:
            await client.close()

    def _refresh_table(self) -> None:
        self.query_one(ReplicasTable).show([(path, *self.state[path]) for path in map(str, self.socket_paths)])


def run_replicas(socket_paths: list[pathlib.Path]) -> None:
    """Run the several-replica dashboard in this terminal until the operator quits."""
    ReplicasApp(socket_paths).run()
