"""The upload staging job's wait, run locally against a small HTTP server standing in for the store's URLs."""

from __future__ import annotations

import http.server
import os
import pathlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import attrs
import pytest

from f7tproxy.transfer import ingress_script

NO_PARTS = b"<ListPartsResult><PartNumberMarker>0</PartNumberMarker><IsTruncated>false</IsTruncated></ListPartsResult>"
ONE_PART = b"<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></ListPartsResult>"


@attrs.define
class Store:
    """What the job's URLs answer, and what the job asked."""

    parts: bool = False
    complete: bool = False
    payload: bytes = b"abc"
    requests: list[str] = attrs.Factory(list)
    url: str = ""


@pytest.fixture
def store() -> Iterator[Store]:
    state = Store()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            state.requests.append("HEAD " + self.path)
            self._answer(200 if state.complete else 404)

        def do_GET(self) -> None:
            state.requests.append("GET " + self.path)
            if self.path == "/list":
                self._answer(404 if state.complete else 200, ONE_PART if state.parts else NO_PARTS)
            else:
                self._answer(200, state.payload)

        def do_DELETE(self) -> None:
            state.requests.append("DELETE " + self.path)
            self._answer(204)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def script(store: Store, target: pathlib.Path, *, first_wait: int, wait_limit: int) -> str:
    u = store.url
    return ingress_script((), str(target), size=len(store.payload), head_url=f"{u}/head", get_url=f"{u}/get",
                          list_url=f"{u}/list", abort_url=f"{u}/abort", first_wait=first_wait,
                          wait_limit=wait_limit)  # fmt: skip


def start(text: str, cwd: pathlib.Path) -> subprocess.Popen[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd)}
    return subprocess.Popen(["bash", "-c", text], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env, start_new_session=True)  # fmt: skip


def test_an_upload_never_sent_ends_the_job_after_the_first_part_wait_and_aborts_it(
    store: Store, tmp_path: pathlib.Path
) -> None:
    began = time.monotonic()
    with start(script(store, tmp_path / "f", first_wait=2, wait_limit=3600), tmp_path) as proc:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 62
    assert time.monotonic() - began < 30
    assert "no part of the file reached the staging area within 2 s" in err
    assert store.requests[-1] == "DELETE /abort"
    # It slept between checks (1, 2, ... s), rather than asking the store in a loop.
    assert sum(r.startswith("HEAD") for r in store.requests) < 10
    assert not (tmp_path / "f").exists()


def test_a_cancelled_job_aborts_the_upload(store: Store, tmp_path: pathlib.Path) -> None:
    with start(script(store, tmp_path / "f", first_wait=600, wait_limit=3600), tmp_path) as proc:
        deadline = time.monotonic() + 30
        while not store.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.requests
        os.killpg(proc.pid, signal.SIGTERM)  # what scancel does to the job's processes
        proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert store.requests[-1] == "DELETE /abort"


def test_an_upload_that_starts_and_completes_is_fetched_and_not_aborted(store: Store, tmp_path: pathlib.Path) -> None:
    store.parts = True  # the first part arrived: the short first-part wait no longer applies
    with start(script(store, tmp_path / "f", first_wait=1, wait_limit=3600), tmp_path) as proc:
        time.sleep(4)
        assert proc.poll() is None
        store.complete = True
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "File was successfully downloaded" in out
    assert (tmp_path / "f").read_bytes() == b"abc"
    assert not any(r.startswith("DELETE") for r in store.requests)
