"""The staging store's bound on parts: refused before anything is presigned, and presigning yields."""

from __future__ import annotations

import time

import pytest
import trio

from f7tproxy.config import S3StagingConfig
from f7tproxy.config._secret import Secret
from f7tproxy.errors import BadRequest
from f7tproxy.transfer._s3 import MAX_PARTS, Staging

MiB = 1024 * 1024


def staging(part: int = 8 * MiB) -> Staging:
    return Staging(S3StagingConfig(private_url="http://127.0.0.1:1", public_url="http://127.0.0.1:2",
                                   access_key_id=Secret("k"), secret_access_key=Secret("s"), max_part_size=part))  # fmt: skip


def test_sizes_past_ten_thousand_parts_are_refused_at_once() -> None:
    s = staging()
    assert MAX_PARTS == 10_000 and s.max_size == 10_000 * 8 * MiB
    assert s.check_size(0) == 1 and s.check_size(8 * MiB + 1) == 2 and s.check_size(s.max_size) == MAX_PARTS
    for size in (s.max_size + 1, 10**15, 10**18, 2**63):
        start = time.monotonic()
        with pytest.raises(BadRequest, match="at most 10000 parts") as err:
            s.check_size(size)
        assert time.monotonic() - start < 0.5
        assert str(size) in err.value.message
    assert staging(1024 * MiB).check_size(10_000 * 1024 * MiB) == MAX_PARTS


async def test_part_urls_never_presigns_past_the_bound() -> None:
    s = staging()
    with pytest.raises(ValueError):
        await s.part_urls("b", "k", "u", MAX_PARTS + 1, public=True)
    with pytest.raises(ValueError):
        await s.part_urls("b", "k", "u", 0, public=True)
    urls = await s.part_urls("b", "k/f", "u", 3, public=True)
    assert [u.split("partNumber=")[1].split("&")[0] for u in urls] == ["1", "2", "3"]
    assert all(u.startswith("http://127.0.0.1:2/b/k/f?") for u in urls)


async def test_presigning_many_parts_lets_other_tasks_run() -> None:
    # Presigning is CPU work; other requests must get the event loop between slices of it.
    s = staging()
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()  # the ticker is running
        before = ticks
        urls = await s.part_urls("b", "k", "u", 500, public=False)
        during = ticks - before
        done = True
    assert len(urls) == 500
    assert during >= 5, during
