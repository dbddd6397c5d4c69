"""The admin protocol over a real Unix socket: snapshot, drain, check-now, and garbage."""

from __future__ import annotations

import json

import pytest
import trio

from .conftest import Admin


async def test_snapshot_has_pools_health_requests_and_errors(admin: Admin) -> None:
    async with admin.runtime.pool.lease("fake", "alice") as lease:
        await lease.run(["hostname"])
    admin.probes["ssh"].failing = "Connection refused"
    await admin.runtime.health.check_now("fake")
    now = trio.current_time()
    admin.runtime.requests.observe("/status/systems", "GET", 200, 0.010, now=now)
    admin.runtime.requests.observe("/status/systems", "GET", 200, 0.030, now=now)
    admin.runtime.requests.observe(
        "/compute/<system>/jobs", "GET", 503, 0.002, now=now, path="/compute/fake/jobs",
        message="The ssh service of fake is unhealthy: Connection refused", user="alice",
    )  # fmt: skip
    client = await admin.connect()
    reply = await client.ask(cmd="snapshot", id=7)
    assert reply["ok"] is True and reply["id"] == 7
    snap = reply["result"]
    assert [s["name"] for s in snap["systems"]] == ["fake"]
    health = {h["serviceType"]: h for h in snap["systems"][0]["health"]}
    assert health["ssh"]["healthy"] is False and health["ssh"]["message"] == "Connection refused"
    assert health["filesystem"]["healthy"] is True and health["filesystem"]["path"] == "/home"
    [pool] = snap["pools"]
    assert pool["system"] == "fake" and pool["user"] == "alice"
    assert pool["connections"] == 1 and pool["slots_in_use"] == 0 and pool["waiters"] == 0
    assert pool["commands"] == 1 and pool["failures"] == 0 and pool["idle_seconds"] >= 0
    requests = snap["requests"]
    assert requests["total"] == 3 and len(requests["rate"]) == 60 and requests["rate"][-1] == 3
    systems = next(e for e in requests["endpoints"] if e["endpoint"] == "/status/systems")
    assert systems["count"] == 2 and systems["p50"] == pytest.approx(0.010) and systems["p99"] == pytest.approx(0.030)
    texts = [e["text"] for e in snap["errors"]]
    assert "GET /compute/fake/jobs -> 503: The ssh service of fake is unhealthy: Connection refused" in texts
    assert "fake ssh: unhealthy: Connection refused" in texts
    json.dumps(snap)
    await client.aclose()


async def test_drain_closes_a_users_idle_connections(admin: Admin) -> None:
    async with admin.runtime.pool.lease("fake", "alice") as lease:
        await lease.run(["true"])
    assert len(admin.ssh.open_connections("alice")) == 1
    client = await admin.connect()
    reply = await client.ask(cmd="drain", system="fake", user="alice")
    assert reply == {"ok": True, "result": {"system": "fake", "user": "alice", "connections": 1}}
    with trio.fail_after(5):
        while admin.ssh.open_connections("alice"):
            await trio.sleep(0.01)
    reply = await client.ask(cmd="drain", system="nope", user="alice")
    assert reply["ok"] is False and "unknown system" in reply["error"]


async def test_check_now_runs_the_probes_and_answers_with_their_results(admin: Admin) -> None:
    client = await admin.connect()
    calls = admin.probes["ssh"].calls
    reply = await client.ask(cmd="check-now", system="fake")
    assert reply["ok"] is True and reply["result"]["system"] == "fake"
    assert [h["serviceType"] for h in reply["result"]["health"]] == ["ssh", "filesystem"]
    assert admin.probes["ssh"].calls == calls + 1


GARBAGE = [
    (b"not json\n", "malformed JSON"),
    (b"\xff\xfe\x00garbage\n", "malformed JSON"),
    (b"[1, 2]\n", "a request is a JSON object"),
    (b'"snapshot"\n', "a request is a JSON object"),
    (b"{}\n", "unknown cmd None"),
    (b'{"cmd": "reboot"}\n', "unknown cmd 'reboot'"),
    (b'{"cmd": "drain", "system": "fake"}\n', "'drain' needs a non-empty string 'user'"),
    (b'{"cmd": "drain", "system": 5, "user": "x"}\n', "'drain' needs a non-empty string 'system'"),
    (b'{"cmd": "check-now"}\n', "'check-now' needs a non-empty string 'system'"),
    (b'{"cmd": "check-now", "system": "nope"}\n', "unknown system 'nope'"),
]


@pytest.mark.parametrize(("line", "error"), GARBAGE, ids=[repr(g[0][:20]) for g in GARBAGE])
async def test_malformed_requests_get_an_error_line_and_the_connection_goes_on(
    admin: Admin, line: bytes, error: str
) -> None:
    client = await admin.connect()
    await client.send(line)
    reply = await client.line()
    assert reply["ok"] is False and error in reply["error"], reply
    assert (await client.ask(cmd="snapshot"))["ok"] is True


async def test_blank_lines_are_ignored_and_requests_may_be_split_or_batched(admin: Admin) -> None:
    client = await admin.connect()
    await client.send(b'\n\n{"cmd": "snap')
    await trio.sleep(0.05)
    await client.send(b'shot", "id": 1}\n{"cmd": "snapshot", "id": 2}\n')
    assert (await client.line())["id"] == 1
    assert (await client.line())["id"] == 2


async def test_an_overlong_line_ends_only_that_connection(admin: Admin) -> None:
    client = await admin.connect()
    other = await admin.connect()
    await client.send(b"x" * (200 * 1024))
    reply = await client.line()
    assert reply["ok"] is False and "longer than" in reply["error"]
    with pytest.raises(EOFError):
        await client.line()
    assert (await other.ask(cmd="snapshot"))["ok"] is True


async def test_a_client_that_does_not_read_is_dropped_without_stalling_others(admin: Admin) -> None:
    slow = await admin.connect()
    fast = await admin.connect()
    request = b'{"cmd": "snapshot"}\n'
    # Far more answers than the socket buffers hold; the slow client never reads.
    with trio.move_on_after(5):
        try:
            for _ in range(5000):
                await slow.send(request)
        except trio.BrokenResourceError:
            pass
    with trio.fail_after(5):
        assert (await fast.ask(cmd="snapshot"))["ok"] is True
    # the slow one is dropped once a write has waited past the write deadline (0.5 s)
    with trio.fail_after(10):
        while admin.server._clients > 1:
            await trio.sleep(0.05)
    assert (await fast.ask(cmd="snapshot"))["ok"] is True
