"""Helpers of the staged-transfer tests: what exists on the cluster and in the staging store."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from f7tproxy.config import S3StagingConfig
from f7tproxy.config._secret import Secret
from f7tproxy.s3 import NS
from f7tproxy.transfer import Staging

from ..conftest import Testbed
from ..gateway import remote


def store(testbed: Testbed) -> Staging:
    """The testbed's S3 store, as the gateway sees it."""
    env = testbed.env
    return Staging(S3StagingConfig(
        private_url=env["F7T_S3_URL"], public_url=env["F7T_S3_URL"], access_key_id=Secret(env["F7T_S3_ACCESS_KEY"]),
        secret_access_key=Secret(env["F7T_S3_SECRET_KEY"]), region=env.get("F7T_S3_REGION", "us-east-1"),
    ))  # fmt: skip


def open_uploads(testbed: Testbed, user: str = "fireuser") -> set[str]:
    """The UploadIds of the unfinished multipart uploads in `user`'s staging bucket."""
    s = store(testbed)
    bucket = s.bucket_for(user)
    r = httpx.get(s._sign(False, "list_multipart_uploads", "GET", Bucket=bucket), timeout=30)
    if r.status_code == 404:
        return set()
    assert r.status_code == 200, r.text
    return {el.text or "" for el in ET.fromstring(r.content).iter(f"{NS}UploadId")}


def user_jobs(testbed: Testbed, user: str = "fireuser") -> set[str]:
    """Ids of `user`'s jobs that Slurm still knows (pending, running or recently ended)."""
    return set(remote(testbed, "squeue -h --states=all -o %i", user).split())
