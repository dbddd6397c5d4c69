"""A user's burst beyond what the SSH pool serves within its wait: 429 with Retry-After, which
clients retry (pyfirecrest does), never 503 (that is for an unhealthy cluster)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
import trio
from firecrest import ClientCredentialsAuth
from firecrest.v2 import AsyncFirecrest

from f7tproxy.config import CacheConfig

from ..conftest import Testbed
from ..gateway import Gateway, gateway_config, remote, run_gateway
from ..health.inprocess import bearer
from ..ssh.fakes import FakeServer
from .inprocess import app_over


async def test_requests_past_the_lease_wait_get_429_with_retry_after() -> None:
    """One slot, commands of 2 s, a 0.5 s wait: of three requests at once, one is served and
    two get FirecREST's error body with status 429 and a Retry-After of a few seconds."""
    server = FakeServer(slots=2, duration=2)
    tight = {"sessions_per_connection": 1, "max_connections_per_user": 1, "lease_timeout": 0.5}
    async with app_over(server, cache=CacheConfig(partitions=0), **tight) as (runtime, client):
        answers: list[tuple[int, object, str | None]] = []

        async def one() -> None:
            response = await client.get("/status/fake/partitions", headers=bearer())
            answers.append((response.status_code, await response.get_json(), response.headers.get("Retry-After")))

        async with trio.open_nursery() as n:
            for _ in range(3):
                n.start_soon(one)
        assert sorted(a[0] for a in answers) == [200, 429, 429]
        for status, body, retry_after in answers:
            if status == 429:
                assert body == {
                    "errorType": "error",
                    "message": "all SSH channels of user alice on fake stayed busy for 0.5 s",
                    "data": None,
                    "user": "alice",
                    "causedBy": None,
                }
                assert retry_after is not None and int(retry_after) == 1
        text = runtime.metrics.render().decode()
        assert 'f7tproxy_pool_busy_total{system="fake"} 2.0' in text


# --------------------------------------------------------------------------- the official client


@pytest.fixture(scope="module")
def tight_gateway(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The testbed behind a pool of one connection with one channel and a wait of 0.2 s."""
    ssh = gateway_config(testbed)["clusters"][0]["ssh"]
    pool = {"sessions_per_connection": 1, "max_connections_per_user": 1, "lease_timeout": 0.2, "command_timeout": 30}
    yield from run_gateway(tmp_path_factory.mktemp("tight"), testbed, ssh={**ssh, "pool": pool})


@pytest.mark.testbed
def test_pyfirecrest_rides_out_a_burst_of_200_without_a_failed_call(
    tight_gateway: Gateway, testbed: Testbed
) -> None:
    """200 concurrent `list_files` of one user through pyfirecrest's AsyncFirecrest, on a pool
    of 1 channel that turns away what it cannot serve within 0.2 s: every call succeeds
    (pyfirecrest sleeps for Retry-After on 429 and retries), bounded in time. Each call lists
    a directory of its own: identical concurrent reads would share one command."""
    directory = remote(
        testbed, "d=$(mktemp -d /home/fireuser/burst-XXXXXX) && mkdir $d/{000..199} && "
                 "for s in $d/*; do touch $s/a $s/b; done && echo $d",
    ).strip()  # fmt: skip
    url = tight_gateway.url

    async def burst() -> list[object]:
        auth = ClientCredentialsAuth("fireuser-client", "fireuser-secret", f"{url}/auth/token")
        client = AsyncFirecrest(firecrest_url=url, authorization=auth)
        client.timeout = 60
        try:
            return await asyncio.wait_for(
                asyncio.gather(*(client.list_files("cluster-slurm", f"{directory}/{i:03d}") for i in range(200)),
                               return_exceptions=True),
                timeout=240,
            )  # fmt: skip
        finally:
            await client.close_session()

    try:
        started = time.monotonic()
        results = asyncio.run(burst())
        elapsed = time.monotonic() - started
    finally:
        remote(testbed, f"rm -rf -- {directory}")
    failed = [r for r in results if isinstance(r, BaseException)]
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    # The first failure (its status and body), the gateway's answers by status, its warnings.
    answers = [line for line in metrics.splitlines() if line.startswith("f7tproxy_http_requests_total{")]
    errors = [line.rstrip() for line in tight_gateway.process.output if "WARNING" in line or "ERROR" in line][-20:]
    assert not failed, f"{len(failed)} of 200 calls failed in {elapsed:.1f} s, e.g. {failed[0]}: {answers} {errors}"
    assert all(sorted(f["name"] for f in r) == ["a", "b"] for r in results)  # type: ignore[attr-defined]
    busy = next(line for line in metrics.splitlines() if line.startswith("f7tproxy_pool_busy_total"))
    assert float(busy.split()[-1]) > 0, "the pool never turned a request away: the test proves nothing"
    assert 'status="503"' not in metrics
    assert elapsed < 240
    print(f"200 list_files through 1 channel in {elapsed:.1f} s; {busy}")
