"""The official client, pyfirecrest 3.10 (sync and async), end to end against f7tproxy and the testbed."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from firecrest import ClientCredentialsAuth
from firecrest.v2 import AsyncFirecrest, Firecrest

from ..server_process import ServerProcess
from .conftest import SYSTEM, home

pytestmark = pytest.mark.testbed

SCRIPT = "#!/bin/bash\necho f7t-pyfirecrest\n"


def _auth(server: ServerProcess) -> ClientCredentialsAuth:
    return ClientCredentialsAuth("fireuser-client", "fireuser-secret", f"{server.url}/auth/token")


def test_sync_client(server: ServerProcess) -> None:
    client = Firecrest(firecrest_url=server.url, authorization=_auth(server))
    try:
        assert client.server_version() == "2"
        assert [s["name"] for s in client.systems()] == [SYSTEM]
        assert client.userinfo(SYSTEM)["user"]["name"] == "fireuser"
        assert client.partitions(SYSTEM) and client.nodes(SYSTEM) and client.reservations(SYSTEM) == []
        assert {p["name"] for p in client.partitions(SYSTEM)} == {"normal", "debug"}  # not the hidden one
        name = "f7t-sync-" + uuid.uuid4().hex[:8]
        job = client.submit(SYSTEM, working_dir=home(), script_str=SCRIPT.replace("echo", f"#SBATCH --job-name={name}\necho"),
                            env_vars={"F7T": "a,b"}, account="proj2")  # fmt: skip
        job_id = job["jobId"]
        (done,) = client.wait_for_job(SYSTEM, job_id, timeout=240)  # 3.10 returns the job list
        assert done["status"]["state"] == "COMPLETED"
        (info,) = client.job_info(SYSTEM, job_id)
        assert info["jobId"] == job_id and info["status"]["exitCode"] == 0 and info["account"] == "proj2"
        (meta,) = client.job_metadata(SYSTEM, job_id)
        assert meta["jobId"] == job_id
        assert job_id in [j["jobId"] for j in client.job_info(SYSTEM)]
        assert job_id in [j["jobId"] for j in client.job_info(SYSTEM, allusers=True)]
        assert [j["jobId"] for j in client.job_info(SYSTEM, account="proj2", name=name)] == [job_id]
        assert client.job_info(SYSTEM, account="proj1", name=name) == []
        assert job_id in [j["jobId"] for j in client.job_info(SYSTEM, time_window="1h")]
        long = client.submit(SYSTEM, working_dir=home(), script_str="#!/bin/bash\nsleep 300\n")
        client.cancel_job(SYSTEM, long["jobId"])
        (cancelled,) = client.wait_for_job(SYSTEM, long["jobId"], timeout=240)
        assert cancelled["status"]["state"] == "CANCELLED"
    finally:
        client.close_session()


def test_async_client(server: ServerProcess) -> None:
    # AsyncFirecrest is asyncio code; the test suite runs trio, so give it its own loop.
    asyncio.run(_async_client(server))


async def _async_client(server: ServerProcess) -> None:
    client = AsyncFirecrest(firecrest_url=server.url, authorization=_auth(server))
    try:
        job = await client.submit(SYSTEM, working_dir=home(), script_str=SCRIPT)
        (done,) = await client.wait_for_job(SYSTEM, job["jobId"], timeout=240)
        assert done["status"]["state"] == "COMPLETED"
        (info,) = await client.job_info(SYSTEM, job["jobId"])
        assert info["status"]["state"] == "COMPLETED"
        (meta,) = await client.job_metadata(SYSTEM, job["jobId"])
        assert "f7t-pyfirecrest" in (meta["script"] or "")
        assert job["jobId"] in [j["jobId"] for j in await client.job_info(SYSTEM, name=info["name"])]
    finally:
        await client.close_session()
