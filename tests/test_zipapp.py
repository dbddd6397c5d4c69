"""The one-file deployment: build dist/f7tproxy.pyz once per run, start it as an operator would.

The zipapp runs with a bare python3.11 in isolated mode (-I: no venv, no user site,
no PYTHONPATH), an environment holding only PATH, HOME and SHIV_ROOT, from a
directory that is not the repository.
"""

from __future__ import annotations

import ast
import json
import marshal
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import attrs
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from f7tproxy import __version__

from . import conftest
from .conftest import REPO
from .server_process import ServerProcess

GOOD = REPO / "tests" / "config" / "good"
pytestmark = pytest.mark.zipapp


@attrs.frozen
class Zipapp:
    path: pathlib.Path
    python: str
    shiv_root: pathlib.Path
    """Shared by the tests of a run: the first start unpacks, the others start warm."""

    def env(self, home: pathlib.Path, shiv_root: pathlib.Path | None = None) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "HOME": str(home), "SHIV_ROOT": str(shiv_root or self.shiv_root)}

    def command(self) -> list[str]:
        return [self.python, "-I", str(self.path)]

    def run(self, *args: str, cwd: pathlib.Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command(), *args], env={**self.env(cwd), **env}, cwd=cwd,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip


def _bare_python() -> str:
    """A python3.11 that is not the test venv's (the venv's would see its site-packages)."""
    for candidate in ("/usr/bin/python3.11", getattr(sys, "_base_executable", "")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no python3.11 outside the virtual environment")


@pytest.fixture(scope="session")
def zipapp(tmp_path_factory: pytest.TempPathFactory) -> Zipapp:
    """scripts/build-zipapp, once per run, into a temporary directory (bounded: 10 minutes)."""
    out = tmp_path_factory.mktemp("dist") / "f7tproxy.pyz"
    try:
        subprocess.run([str(REPO / "scripts" / "build-zipapp"), "-o", str(out)],
                       check=True, capture_output=True, text=True, timeout=600)  # fmt: skip
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"scripts/build-zipapp failed:\n{exc.stdout[-3000:]}\n{exc.stderr[-3000:]}")
    return Zipapp(path=out, python=_bare_python(), shiv_root=tmp_path_factory.mktemp("shiv-root"))


@pytest.fixture
def elsewhere(tmp_path: pathlib.Path) -> pathlib.Path:
    """A working directory far from the repository, with a small config serving on port 0."""
    for name in ("known_hosts", "alice.key"):
        shutil.copy(GOOD / name, tmp_path / name)
    return tmp_path


def write_config(where: pathlib.Path, extra: str = "") -> pathlib.Path:
    text = (GOOD / "minimal.yaml").read_text() + f"server:\n  port: 0\n  shutdown_grace: 3\n  admin_socket: {where / 'admin.sock'}\n" + extra
    path = where / "f7tproxy.yaml"
    path.write_text(text)
    return path


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


@pytest.fixture
def server(zipapp: Zipapp, elsewhere: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    extra = getattr(request, "param", "")
    config = write_config(elsewhere, extra)
    with ServerProcess(config, command=zipapp.command(), env=zipapp.env(elsewhere), cwd=elsewhere,
                       start_timeout=60) as proc:  # fmt: skip
        yield proc


def test_cold_start_from_another_directory_with_only_python3(zipapp: Zipapp, elsewhere: pathlib.Path) -> None:
    fresh_root = elsewhere / "fresh-shiv-root"
    config = write_config(elsewhere)
    with ServerProcess(config, command=zipapp.command(), env=zipapp.env(elsewhere, fresh_root), cwd=elsewhere,
                       start_timeout=60) as proc:  # fmt: skip
        response = httpx.get(f"{proc.url}/status/liveness/", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"healthcheckRuns": {}, "lastUpdate": 0}
        assert proc.stop(signal.SIGTERM, timeout=10) == 0
    assert any(fresh_root.iterdir()), "the zipapp did not unpack into SHIV_ROOT"
    assert "f7tproxy stopped" in "".join(proc.output)
    # It unpacked only the distributions with extension modules, certifi and the metadata
    # (some 600 files, not the 4,000 of the whole site-packages) ...
    (unpacked,) = fresh_root.glob(f"{zipapp.path.name}_*")
    files = [f for f in unpacked.rglob("*") if f.is_file()]
    assert 300 < len(files) < 1000, len(files)
    assert (unpacked / "site-packages" / "cryptography").is_dir() and not (unpacked / "site-packages" / "trio").exists()
    # ... used the bytecode the zipapp ships (hash-based, flags 1) for the unpacked modules
    # it imported, and compiled few itself (timestamped .pyc files, flags 0: modules an
    # import tried and failed) ...
    flags = [int.from_bytes(pyc.read_bytes()[4:8], "little") for pyc in (unpacked / "site-packages").rglob("*.pyc")]
    assert flags.count(1) > 50 and flags.count(0) < 30, (flags.count(1), flags.count(0))
    # ... and took those it imported from the archive from their bytecode there: few were
    # compiled and kept in lib-bytecode/ (again modules an import tried and failed, such
    # as asyncssh's GSS-API support), not the 600 it imports from there.
    compiled = sorted(str(p.relative_to(unpacked)) for p in unpacked.glob("lib-bytecode/**/*.pyc"))
    assert len(compiled) < 30, compiled


def test_a_start_that_finds_it_unpacked_skips_shivs_bootstrap(zipapp: Zipapp, elsewhere: pathlib.Path) -> None:
    # The launcher (scripts/build-zipapp) runs shiv's bootstrap only to unpack, or when a SHIV_*
    # variable other than SHIV_ROOT asks for something; -X importtime shows what a start imports.
    root = elsewhere / "own-shiv-root"
    command = [zipapp.python, "-I", "-X", "importtime", str(zipapp.path), "version"]

    def imports(**env: str) -> list[str]:
        done = subprocess.run(command, env={**zipapp.env(elsewhere, root), **env}, cwd=elsewhere,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0 and done.stdout.startswith("f7tproxy "), done.stderr[-2000:]
        return [line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]

    assert "_bootstrap" in imports()  # unpacks
    assert "_bootstrap" not in imports()  # and still answers (f7tproxy.cli is imported through importlib)
    assert "_bootstrap" in imports(SHIV_FORCE_EXTRACT="1")


def test_zipapp_holds_the_admin_tui_and_textual(zipapp: Zipapp, elsewhere: pathlib.Path) -> None:
    # Pure Python comes from the archive's lib/ (zipimport), extension modules from SHIV_ROOT.
    code = "import admin_tui, textual, f7tproxy, cryptography.hazmat.bindings._rust as rust\n" \
           "for m in (admin_tui, textual, f7tproxy, rust): print(m.__file__)"  # fmt: skip
    done = zipapp.run("-c", code, cwd=elsewhere, SHIV_INTERPRETER="1")
    assert done.returncode == 0, done.stderr
    *pure, rust = done.stdout.splitlines()
    for line in pure:
        assert pathlib.Path(line).is_relative_to(zipapp.path / "lib"), f"not imported from the archive: {line}"
    assert pathlib.Path(rust).is_relative_to(zipapp.shiv_root) and rust.endswith(".so"), rust


# Run after `import sys`: what a start ends with, and what the libraries read of their own.
_SEEN = """\
import importlib.metadata, importlib.resources, os
import certifi
print(sys.path)
print(type(sys.path_importer_cache[sys.path[sys.path.index(os.path.join(sys.path[0], "lib"))]]).__name__)
print(importlib.metadata.version("trio"), importlib.metadata.version("cryptography"))
print([e.value for e in importlib.metadata.entry_points(group="console_scripts", name="f7tproxy")])
print(os.path.isfile(certifi.where()) and certifi.where().startswith(os.environ["SHIV_ROOT"]))
print(len(importlib.resources.files("openapi_ui_bundles").joinpath("redoc/vendor/redoc.standalone.js").read_bytes()) > 10**5)
"""


def test_the_launcher_and_shivs_bootstrap_end_with_the_same_sys_path(zipapp: Zipapp, elsewhere: pathlib.Path) -> None:
    # The launcher runs the entry point; python -i goes on to read the code from stdin after
    # it (and its sys.exit). SHIV_FORCE_EXTRACT sends the same start through shiv's bootstrap.
    def seen(**env: str) -> list[str]:
        done = subprocess.run([zipapp.python, "-I", "-i", str(zipapp.path), "version"], input="import sys\n" + _SEEN,
                              env={**zipapp.env(elsewhere), **env}, cwd=elsewhere, capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0 and done.stdout.startswith("f7tproxy "), done.stderr[-2000:]
        return done.stdout.splitlines()[1:]

    launched, bootstrapped = seen(), seen(SHIV_FORCE_EXTRACT="1")
    assert launched == bootstrapped
    path = ast.literal_eval(launched[0])
    lib, site_packages = path.index(str(zipapp.path / "lib")), path.index(next(p for p in path if p.endswith("/site-packages")))
    assert lib == site_packages + 1 and pathlib.Path(path[site_packages]).is_relative_to(zipapp.shiv_root), path
    assert launched[1:] == ["LibImporter", launched[2], "['f7tproxy.cli:main']", "True", "True"]
    assert re.fullmatch(r"\d[\w.]* \d[\w.]*", launched[2]), launched[2]


def test_a_module_the_archive_has_no_bytecode_for_is_compiled_once(zipapp: Zipapp, elsewhere: pathlib.Path) -> None:
    # pygments' Python lexer: nothing the zipapp starts imports it, so it ships no bytecode.
    root = elsewhere / "own-shiv-root"
    code = "import pygments.lexers.python as m; print(getattr(m, 'MARK', None))"
    assert zipapp.run("-c", code, cwd=elsewhere, SHIV_ROOT=str(root), SHIV_INTERPRETER="1").stdout == "None\n"
    (cached,) = root.glob(f"{zipapp.path.name}_*/lib-bytecode/lib/pygments/lexers/python.pyc")
    # python -B keeps nothing.
    other = subprocess.run([zipapp.python, "-I", "-B", str(zipapp.path), "-c", "import pygments.lexers.lisp"],
                           env={**zipapp.env(elsewhere, root), "SHIV_INTERPRETER": "1"}, cwd=elsewhere,
                           capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert not list(root.glob("*/lib-bytecode/lib/pygments/lexers/lisp.pyc"))
    # The next import takes the kept bytecode (here replaced: it names the module MARK).
    header = cached.read_bytes()[:16]
    cached.write_bytes(header + marshal.dumps(compile("MARK = 'kept'", "python.py", "exec")))
    assert zipapp.run("-c", code, cwd=elsewhere, SHIV_ROOT=str(root), SHIV_INTERPRETER="1").stdout == "kept\n"


def test_zipapp_cli_version_and_check_config(zipapp: Zipapp, elsewhere: pathlib.Path) -> None:
    done = zipapp.run("version", cwd=elsewhere)
    assert done.returncode == 0 and done.stdout.startswith("f7tproxy "), done.stderr
    config = write_config(elsewhere)
    assert zipapp.run("check-config", str(config), cwd=elsewhere).returncode == 0
    bad = elsewhere / "bad.yaml"
    bad.write_text("server: {port: abc}\n")
    done = zipapp.run("check-config", str(bad), cwd=elsewhere)
    assert done.returncode == 2 and "server.port: expected int, got 'abc'" in done.stderr


def test_metrics_move_with_requests(server: ServerProcess) -> None:
    before = scrape(server.url)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for n in range(5):
            r = client.get("/status/liveness/", headers={"X-Request-ID": f"zip-{n}", "X-Correlation-ID": "zip-c"})
            assert r.headers["X-Request-ID"] == f"zip-{n}" and r.headers["X-Correlation-ID"] == "zip-c"
        assert client.get("/no/such/route").status_code == 404
    after = scrape(server.url)

    def moved(k: tuple[str, frozenset[tuple[str, str]]]) -> float:
        return after.get(k, 0.0) - before.get(k, 0.0)

    live = {"endpoint": "/status/liveness/", "method": "GET"}
    assert moved(key("f7tproxy_http_requests_total", status="200", **live)) == 5
    assert moved(key("f7tproxy_http_request_duration_seconds_count", **live)) == 5
    assert moved(key("f7tproxy_http_request_duration_seconds_sum", **live)) > 0
    assert moved(key("f7tproxy_http_requests_total", endpoint="<unmatched>", method="GET", status="404")) == 1
    # the first scrape itself was counted once it had been answered
    assert moved(key("f7tproxy_http_requests_total", endpoint="/metrics", method="GET", status="200")) == 1
    assert after[key("f7tproxy_http_requests_in_flight")] == 1  # the scrape being answered
    assert after[key("process_resident_memory_bytes")] > 10e6

    # and each request left one JSON access line with its ids
    server.stop(signal.SIGTERM, timeout=10)
    access = [json.loads(line) for line in "".join(server.output).splitlines() if line.startswith('{"ts"')]
    mine = [a for a in access if a["correlation_id"] == "zip-c"]
    assert [a["request_id"] for a in mine] == [f"zip-{n}" for n in range(5)]
    assert all(a["status"] == 200 and a["endpoint"] == "/status/liveness/" for a in mine)


def test_the_docs_assets_are_served_from_the_archive(server: ServerProcess) -> None:
    # openapi-ui-bundles stays in the archive: importlib.resources reads it through zipimport.
    for asset, size in [("/docs/assets/swagger-ui-bundle.js", 10**6), ("/redoc/assets/redoc.standalone.js", 10**5)]:
        response = httpx.get(f"{server.url}{asset}", timeout=10)
        assert response.status_code == 200 and len(response.content) > size, (asset, response.status_code)


def test_a_server_imports_from_the_file_it_started_from_after_an_upgrade_replaced_it(
    zipapp: Zipapp, elsewhere: pathlib.Path
) -> None:
    # Modules load as used: FirecREST's schemas with the first /openapi.json. The file is
    # replaced (a new file, as `install` writes) by one with every entry elsewhere.
    running = elsewhere / "f7tproxy.pyz"
    shutil.copy(zipapp.path, running)
    config = write_config(elsewhere)
    with ServerProcess(config, command=[zipapp.python, "-I", str(running)], env=zipapp.env(elsewhere), cwd=elsewhere,
                       start_timeout=60) as proc:  # fmt: skip
        new = elsewhere / "new.pyz"
        with zipfile.ZipFile(zipapp.path) as old, new.open("wb") as fd:
            fd.write(zipapp.path.read_bytes().partition(b"\n")[0] + b"\n")
            with zipfile.ZipFile(fd, "w") as moved:
                moved.writestr("padding", b"\0" * 4096)
                for info in old.infolist():
                    moved.writestr(info, old.read(info))
        new.replace(running)
        response = httpx.get(f"{proc.url}/openapi.json", timeout=30)
        assert response.status_code == 200 and "paths" in response.json(), response.text[-2000:]
        assert proc.stop(signal.SIGTERM, timeout=10) == 0


BURST_3 = """rate_limit:
  per_client: {rate: 0.2, burst: 3}
  exempt: []
"""


@pytest.mark.parametrize("server", [BURST_3], indirect=True, ids=["burst-3"])
def test_429_after_the_configured_burst(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answers = [client.get("/status/liveness/") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        refused = answers[-1]
        assert refused.headers["Retry-After"] == "5"  # one request per 5 s
        assert refused.headers["RateLimit-Limit"] == "3" and refused.headers["RateLimit-Remaining"] == "0"
        assert re.fullmatch(r"\d+", refused.headers["RateLimit-Reset"])
        assert set(refused.json()) == {"errorType", "message", "data", "user", "causedBy"}
        assert client.get("/metrics").status_code == 200  # never limited
    assert scrape(server.url)[key("f7tproxy_rate_limited_total", scope="client")] == 1


@pytest.mark.testbed
def test_zipapp_serves_the_demo_config_against_the_testbed(
    zipapp: Zipapp, testbed: conftest.Testbed, tmp_path: pathlib.Path
) -> None:
    text = (REPO / "conf" / "demo.yaml").read_text()
    text = text.replace("port: 8000", "port: 0").replace(
        "/run/f7tproxy/demo-admin.sock", str(tmp_path / "admin.sock")
    )
    config = tmp_path / "demo.yaml"
    config.write_text(text)
    with ServerProcess(config, command=zipapp.command(), env=zipapp.env(tmp_path), cwd=tmp_path,
                       start_timeout=60) as proc:  # fmt: skip
        assert httpx.get(f"{proc.url}/status/liveness/", timeout=10).status_code == 200
        assert key("f7tproxy_build_info", version=__version__) in scrape(proc.url)
        assert proc.stop(signal.SIGTERM, timeout=15) == 0


def _redis_keys(url: str, pattern: str, *, delete: bool = False) -> int:
    """How many keys match `pattern` in the Redis at `url` (deleted if `delete`); plain RESP."""
    import socket
    import urllib.parse

    where = urllib.parse.urlsplit(url)
    with socket.create_connection((where.hostname, where.port or 6379), timeout=5) as s, s.makefile("rb") as f:
        s.sendall(f"KEYS {pattern}\r\n".encode())
        keys = []
        for _ in range(int(f.readline()[1:])):  # *N, then $length and the key, N times
            f.readline()
            keys.append(f.readline().rstrip(b"\r\n"))
        if delete and keys:
            s.sendall(b"DEL " + b" ".join(keys) + b"\r\n")
            f.readline()
    return len(keys)


@pytest.mark.testbed
def test_zipapp_keeps_rate_limits_in_the_testbeds_redis(
    zipapp: Zipapp, testbed: conftest.Testbed, elsewhere: pathlib.Path
) -> None:
    """With shared_state the zipapp loads its Redis client (coredis, and beartype under it)."""
    url, prefix = testbed.env["F7T_REDIS_URL"], f"f7t-zipapp-{os.getpid()}:"
    extra = BURST_3 + f"shared_state:\n  redis: {{url: '{url}', timeout: 2, key_prefix: '{prefix}'}}\n"
    config = write_config(elsewhere, extra)
    try:
        with ServerProcess(config, command=zipapp.command(), env=zipapp.env(elsewhere), cwd=elsewhere,
                           start_timeout=60) as proc:  # fmt: skip
            with httpx.Client(base_url=proc.url, timeout=10) as client:
                answers = [client.get("/status/liveness/").status_code for _ in range(4)]
            assert answers == [200, 200, 200, 429]
            assert _redis_keys(url, f"{prefix}*") >= 1, "no bucket in Redis"
            failures = [v for (name, _), v in scrape(proc.url).items() if name.startswith("f7tproxy_shared_state_failures")]
            assert not any(failures), failures
            assert proc.stop(signal.SIGTERM, timeout=15) == 0
    finally:
        _redis_keys(url, f"{prefix}*", delete=True)


def _read_terminal(fd: int, until: str, deadline: float) -> str:
    """Read a pseudo-terminal until `until` shows up (ANSI codes stripped) or the deadline passes."""
    import select
    import time

    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
            text = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", seen.decode(errors="replace"))
            if until in text:
                return text
    return re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", "", seen.decode(errors="replace"))


def test_zipapp_admin_dashboard_shows_a_live_server(zipapp: Zipapp, elsewhere: pathlib.Path) -> None:
    import pty
    import time

    config = write_config(elsewhere)
    with ServerProcess(config, command=zipapp.command(), env=zipapp.env(elsewhere), cwd=elsewhere,
                       start_timeout=60):  # fmt: skip
        main, child = pty.openpty()
        tui = subprocess.Popen(
            [*zipapp.command(), "admin", "--socket", str(elsewhere / "admin.sock")],
            stdin=child, stdout=child, stderr=child, cwd=elsewhere,
            env={**zipapp.env(elsewhere), "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
        )  # fmt: skip
        os.close(child)
        try:
            # The dashboard names the configured system ("tiny") once it reads a snapshot.
            screen = _read_terminal(main, "tiny", time.monotonic() + 60)
            assert "tiny" in screen, screen[-2000:]
            os.write(main, b"q")
            # Keep reading: a terminal nobody reads would block the dashboard's output.
            deadline = time.monotonic() + 20
            while tui.poll() is None and time.monotonic() < deadline:
                _read_terminal(main, "\0", time.monotonic() + 0.5)
            assert tui.wait(timeout=5) == 0
        finally:
            if tui.poll() is None:
                tui.kill()
                tui.wait(timeout=10)
            os.close(main)
