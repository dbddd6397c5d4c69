"""Request statistics: percentiles, per-second history, the one-minute rate, recent errors."""

from __future__ import annotations

import pytest

from f7tproxy.observability import RequestStats


def test_percentiles_rates_and_history() -> None:
    stats = RequestStats()
    for i in range(100):
        stats.observe("/status/systems", "GET", 200, (i + 1) / 1000, now=1000.0 + i * 0.5)
    snap = stats.statistics(1050.0)
    [ep] = snap.endpoints
    assert (ep.count, ep.errors) == (100, 0)
    assert ep.p50 == pytest.approx(0.050) and ep.p90 == pytest.approx(0.090) and ep.p99 == pytest.approx(0.099)
    assert ep.rate == pytest.approx(100 / 60)
    # two requests a second from 1000 to 1049; the current second (1050) has none yet
    assert len(snap.rate) == 60 and sum(snap.rate) == 100 and snap.rate[-2:] == (2, 0)
    assert snap.latency[-2] == pytest.approx(0.0995) and snap.latency[-1] is None
    later = stats.statistics(1200.0)
    assert later.endpoints[0].rate == 0 and sum(later.rate) == 0 and later.latency[-1] is None
    assert later.total == 100 and later.endpoints[0].p50 == pytest.approx(0.050)


def test_errors_are_kept_with_their_message() -> None:
    stats = RequestStats()
    stats.observe("/x", "GET", 404, 0.1, now=1.0)
    stats.observe("/x", "GET", 424, 0.1, now=1.0, path="/compute/a/x", message="SSH failed", user="bob")
    stats.observe("/x", "GET", 500, 0.1, now=1.0)
    snap = stats.statistics(2.0)
    assert [(e.status, e.path, e.message, e.user) for e in snap.errors] == [
        (424, "/compute/a/x", "SSH failed", "bob"), (500, "/x", None, None),
    ]  # fmt: skip
    assert snap.endpoints[0].errors == 2


def test_entries_stay_bounded_whatever_clients_send() -> None:
    from f7tproxy.observability._requests import MAX_ENDPOINTS, OVERFLOW

    stats = RequestStats()
    for i in range(2000):
        stats.observe("/x", f"M{i}", 200, 0.1, now=1.0)
        stats.observe(f"/made-up/{i}", "GET", 500, 0.1, now=1.0, path=f"/made-up/{i}")
    snap = stats.statistics(1.0)
    assert {(e.endpoint, e.method, e.count) for e in snap.endpoints if e.endpoint == "/x"} == {("/x", "other", 2000)}
    assert len(snap.endpoints) == MAX_ENDPOINTS + 1  # and one overflow entry (per method)
    [overflow] = [e for e in snap.endpoints if e.endpoint == OVERFLOW]
    assert overflow.count == 2000 - (MAX_ENDPOINTS - 1) and overflow.errors == overflow.count
    assert snap.total == 4000 and {e.method for e in snap.errors} == {"GET"}
