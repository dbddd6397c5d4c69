"""The package stays mypy --strict clean (pyproject's [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_mypy_strict_on_the_package() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "f7tproxy", "admin_tui"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr
