"""The transfer job scripts: valid bash whatever the data, directives first, data inert."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from f7tproxy.transfer import (
    compress_script,
    copy_script,
    delete_script,
    egress_script,
    extract_script,
    ingress_script,
    move_script,
)
from f7tproxy.transfer._s3 import Staging

HOSTILE = ["/h/it's", '/h/"q"', "/h/$(touch PWNED)", "/h/`touch PWNED`", "/h/a\n#SBATCH --uid=0\nb",
           "/h/-rf", "/h/ünï 😀", "/h/&amp;<x>", "/h/a\\b", "/h/${HOME}"]  # fmt: skip
DIRECTIVES = ("#SBATCH --time=0-00:15:00", "#SBATCH --partition=debug")


def scripts(path: str) -> list[str]:
    return [
        copy_script(DIRECTIVES, path, path + ".2", dereference=True),
        move_script(DIRECTIVES, path, path + ".2"),
        delete_script(DIRECTIVES, path),
        compress_script(DIRECTIVES, path, path + ".tgz", compression="gzip", dereference=False, match_pattern=path),
        extract_script(DIRECTIVES, path, "/h", compression="bzip2"),
        ingress_script(DIRECTIVES, path, size=3, head_url="http://s3/h?a=1&b=" + path,
                       get_url="http://s3/g?x='y'", list_url="http://s3/l?$(x)", abort_url="http://s3/a;id",
                       first_wait=2, wait_limit=5),  # fmt: skip
        egress_script(DIRECTIVES, path, size=10, part_size=5, part_urls=["http://s3/1?$(x)", "http://s3/2"],
                      complete_url="http://s3/c;id"),  # fmt: skip
    ]


@pytest.mark.parametrize("path", HOSTILE, ids=repr)
def test_scripts_parse_and_keep_directives_on_top(path: str) -> None:
    for script in scripts(path):
        done = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True, timeout=10)
        assert done.returncode == 0, (done.stderr, script)
        lines = script.split("\n")
        assert lines[:3] == ["#!/bin/bash", *DIRECTIVES]
        assert lines[3] == "set -u"
        assert "{{" not in script and "&#39;" not in script


def _run(script: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd)}
    return subprocess.run(["bash", "-s"], input=script, text=True, capture_output=True, cwd=cwd, env=env, timeout=30)


@pytest.mark.parametrize("name", ["it's $(touch PWNED) `touch PWNED2`", "a\nb", "-rf", "Files were successfully x"])
def test_steps_run_with_hostile_names_and_execute_nothing(tmp_path: pathlib.Path, name: str) -> None:
    src = tmp_path / name
    src.write_text("payload")
    done = _run(copy_script((), str(src), str(tmp_path / "copy"), dereference=False), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("Files were successfully copied.")
    assert (tmp_path / "copy").read_text() == "payload"
    done = _run(delete_script((), str(src)), tmp_path)
    assert done.returncode == 0 and not src.exists()
    failed = _run(move_script((), str(src), str(tmp_path / "x")), tmp_path)
    assert failed.returncode != 0 and "successfully" not in failed.stdout
    assert "No such file or directory" in failed.stderr
    assert not list(tmp_path.glob("PWNED*"))


def test_staging_names() -> None:
    assert Staging.bucket_for("fireuser") != Staging.bucket_for("Fireuser")
    for user in ("a_b", "x" * 32, "u$"):
        bucket = Staging.bucket_for(user)
        assert 3 <= len(bucket) <= 63 and bucket.replace("-", "").isalnum() and bucket == bucket.lower()
    assert Staging.new_key("f.bin").endswith("/f.bin")
