"""The admin socket file: mode 0600, stale files replaced, a live server's socket left alone, removed at exit."""

from __future__ import annotations

import os
import pathlib
import socket
import stat

import trio

from f7tproxy.admin import AdminServer

from .conftest import Admin


async def test_socket_is_owner_only_and_removed_at_exit(admin: Admin) -> None:
    st = os.stat(admin.path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.getuid()
    assert stat.S_IMODE(os.stat(admin.path.parent).st_mode) == 0o700


async def test_stale_socket_is_replaced_and_file_removed_on_exit(admin: Admin, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(path))
    leftover.close()  # bound, never listening: what a killed server leaves behind
    async with trio.open_nursery() as nursery:
        assert await nursery.start(AdminServer(admin.runtime, path).run) == path
        client = await trio.open_unix_socket(str(path))
        await client.aclose()
        nursery.cancel_scope.cancel()
    assert not path.exists()


async def test_a_live_servers_socket_is_left_alone(admin: Admin) -> None:
    async with trio.open_nursery() as nursery:
        assert await nursery.start(AdminServer(admin.runtime, admin.path).run) is None
        nursery.cancel_scope.cancel()
    client = await admin.connect()
    assert (await client.ask(cmd="snapshot"))["ok"] is True


async def test_a_file_that_is_not_a_socket_is_never_removed(admin: Admin, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "precious"
    path.write_text("keep me")
    async with trio.open_nursery() as nursery:
        assert await nursery.start(AdminServer(admin.runtime, path).run) is None
        nursery.cancel_scope.cancel()
    assert path.read_text() == "keep me"
