"""SVG snapshots of the dashboard's screens: compared with the files in snapshots/.

Set F7T_UPDATE_SNAPSHOTS=1 to (re)write them; review the SVGs (open them in a
browser) before committing.
"""

from __future__ import annotations

import difflib
import os
import pathlib

SNAPSHOTS = pathlib.Path(__file__).parent / "snapshots"


def assert_matches(name: str, svg: str) -> None:
    """Compare `svg` with snapshots/<name>.svg (or write it when updating)."""
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("F7T_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if not path.exists() and os.environ.get("CI"):
            raise AssertionError(f"missing snapshot {path} (run with F7T_UPDATE_SNAPSHOTS=1 and review it)")
        path.write_text(svg)
        return
    expected = path.read_text()
    if svg != expected:
        actual = path.with_suffix(".actual.svg")
        actual.write_text(svg)
        diff = "".join(list(difflib.unified_diff(
            expected.splitlines(keepends=True), svg.splitlines(keepends=True), str(path), str(actual), n=1,
        ))[:60])  # fmt: skip
        raise AssertionError(f"screen {name!r} differs from {path} (new one in {actual}):\n{diff}")
