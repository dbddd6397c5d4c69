"""WaitingUploads: the per-user cap counts uploads being set up and waiting, and forgets them."""

from __future__ import annotations

import pytest
import trio

from f7tproxy.errors import RateLimited, TooManyUploads, kind_of
from f7tproxy.transfer import WaitingUploads


def submit(w: WaitingUploads, user: str, job: str, wait: float = 60) -> None:
    with w.reserve(user) as slot:
        slot.submitted(job, f"/p/{job}", bucket="b", key=f"k/{job}", upload_id=f"u{job}", wait=wait)


async def test_cap_per_user_counts_reservations_and_releases_failed_ones(autojump_clock: trio.abc.Clock) -> None:
    w = WaitingUploads(2, retry_after=10)
    submit(w, "ann", "1")
    with w.reserve("ann"):
        # A second upload of ann's is being set up: it holds the last slot.
        with pytest.raises(TooManyUploads) as err:
            with w.reserve("ann"):
                pass
        assert err.value.retry_after == 10 and kind_of(err.value).status == 429
        assert isinstance(err.value, RateLimited)
        submit(w, "bob", "2")  # other users are not affected
    # That set-up failed (never `submitted`): its slot is free again.
    submit(w, "ann", "3")
    assert [(e.user, e.job_id) for e in w.entries()] == [("ann", "1"), ("bob", "2"), ("ann", "3")]
    assert w.entries()[0].to_json().keys() == {"user", "jobId", "path", "since"}
    with pytest.raises(TooManyUploads):
        with w.reserve("ann"):
            pass
    w.forget("1")
    submit(w, "ann", "4")


async def test_uploads_are_forgotten_when_their_wait_bound_passes(autojump_clock: trio.abc.Clock) -> None:
    w = WaitingUploads(1, retry_after=10)
    submit(w, "ann", "1", wait=100)
    await trio.sleep(99)
    assert len(w.entries()) == 1
    with pytest.raises(TooManyUploads):
        with w.reserve("ann"):
            pass
    await trio.sleep(2)
    assert w.entries() == ()
    submit(w, "ann", "2")
