"""What starting the server imports: heavy libraries that serve only some configurations
or commands load when used, not at start (each costs start time, most in the zipapp)."""

from __future__ import annotations

import subprocess
import sys

LAZY = ("openfga_sdk", "aiohttp", "urllib3", "dateutil", "textual", "admin_tui", "botocore", "coredis", "beartype")


def test_the_server_and_cli_import_no_optional_heavy_library() -> None:
    code = "import sys, f7tproxy.cli, f7tproxy.server; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    loaded = {name.partition(".")[0] for name in done.stdout.split()}
    assert not loaded & set(LAZY), f"imported at start: {sorted(loaded & set(LAZY))}"
    # FirecREST's schemas, for /openapi.json only: imported when the document is first built.
    assert "f7tproxy.api._models" not in done.stdout.split()



def test_the_collector_paused_while_the_server_loads_runs_again_less_often() -> None:
    code = ("import gc, f7tproxy.cli as cli\n"
            "with cli._loading():\n    import f7tproxy.server\n    assert not gc.isenabled()\n"
            "print(gc.isenabled(), gc.get_freeze_count() > 10000, gc.get_threshold()[0])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["True", "True", "20000"]


def test_importing_asyncssh_starts_no_search_for_an_absent_liboqs() -> None:
    # asyncssh looks for liboqs with ctypes.util.find_library: ldconfig, gcc and ld, twice.
    code = ("import sys\nstarted = []\n"
            "sys.addaudithook(lambda event, args: started.append(args[1]) if event == 'subprocess.Popen' else None)\n"
            "import ctypes.util, f7tproxy._aio, asyncssh.crypto.pq as pq\n"
            "print(any('oqs' in ' '.join(argv) for argv in started), pq._oqs_lib, ctypes.util.find_library.__qualname__)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "None", "find_library"]


def test_a_library_the_loader_knows_is_looked_up_as_before() -> None:
    from f7tproxy._aio._oqs import loadable

    assert loadable("c")  # libc.so.6, in the loader's cache
    assert not loadable("oqs-never-installed")
