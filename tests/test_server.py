"""The process skeleton: a real `f7tproxy serve` answers liveness and stops cleanly on signals."""

from __future__ import annotations

import pathlib
import shutil
import signal
import time

import httpx
import pytest

from .server_process import ServerProcess

GOOD = pathlib.Path(__file__).parent / "config" / "good"


@pytest.fixture
def config_file(tmp_path: pathlib.Path) -> pathlib.Path:
    for name in ("known_hosts", "alice.key"):
        shutil.copy(GOOD / name, tmp_path / name)
    text = (GOOD / "minimal.yaml").read_text()
    text += f"server:\n  port: 0\n  shutdown_grace: 3\n  admin_socket: {tmp_path / 'admin.sock'}\n"
    path = tmp_path / "f7tproxy.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_liveness_and_stops_on_signal(config_file: pathlib.Path, signum: int) -> None:
    with ServerProcess(config_file) as server:
        response = httpx.get(f"{server.url}/status/liveness/", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"healthcheckRuns": {}, "lastUpdate": 0}
        started = time.monotonic()
        status = server.stop(signum, timeout=3 + 5)
        assert status == 0, "".join(server.output)
        assert time.monotonic() - started < 3 + 2
    assert "f7tproxy stopped" in "".join(server.output)


def test_unknown_route_gets_firecrest_error_body(config_file: pathlib.Path) -> None:
    with ServerProcess(config_file) as server:
        response = httpx.get(f"{server.url}/no/such/route", timeout=10)
        assert response.status_code == 404
        body = response.json()
        assert body["errorType"] == "error" and body["message"]
        assert set(body) == {"errorType", "message", "data", "user", "causedBy"}


def test_request_and_correlation_ids_are_returned(config_file: pathlib.Path) -> None:
    with ServerProcess(config_file) as server:
        response = httpx.get(
            f"{server.url}/status/liveness/",
            headers={"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"},
            timeout=10,
        )
        assert response.headers["X-Request-ID"] == "req-1"
        assert response.headers["X-Correlation-ID"] == "corr-1"


def test_bad_config_exits_2_without_serving(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: {port: abc}\n")
    with pytest.raises(RuntimeError, match=r"server.port: expected int, got 'abc'"):
        with ServerProcess(bad, start_timeout=20):
            pass


def test_sigterm_fails_liveness_first_and_serves_until_the_drain_delay_ends(config_file: pathlib.Path) -> None:
    config_file.write_text(config_file.read_text() + "  drain_delay: 2\n")
    with ServerProcess(config_file) as server:
        assert httpx.get(f"{server.url}/status/liveness/", timeout=10).status_code == 200
        with httpx.Client(base_url=server.url, timeout=10) as c:
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            time.sleep(0.3)
            live = c.get("/status/liveness/")
            # the balancer stops sending; what it still sends meanwhile is served
            assert live.status_code == 503 and live.json()["message"] == "Shutting down"
            assert c.get("/no/such/route").status_code == 404
            assert c.get("/openapi.json").status_code == 200
        server.proc.wait(timeout=2 + 3 + 5)  # (a second signal would skip the delay)
        took = time.monotonic() - sent
        status = server.stop()
    assert status == 0, "".join(server.output)
    assert 1.8 < took < 2 + 3 + 2, took
