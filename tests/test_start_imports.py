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



def test_the_collector_paused_while_the_server_loads_runs_again_less_often() -> None:
    code = ("import gc, f7tproxy.cli as cli\n"
            "with cli._loading():\n    import f7tproxy.server\n    assert not gc.isenabled()\n"
            "print(gc.isenabled(), gc.get_freeze_count() > 10000, gc.get_threshold()[0])")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["True", "True", "20000"]
