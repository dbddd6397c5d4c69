"""The cells the dashboard's tables share: breaker state, waiting uploads, ages, latencies, error rates."""

from __future__ import annotations

from admin_tui.widgets._table import millis, percent, since
from admin_tui.widgets.systems import breaker_cell, uploads_cell

NOW = "2026-01-02T03:04:05Z"


def test_an_open_breaker_stands_out_with_its_age_and_failures() -> None:
    cell = breaker_cell({"state": "open", "since": "2026-01-02T03:02:00Z", "failures": 5}, NOW)
    assert cell.plain == "OPEN 2m05s, 5 failures"
    assert str(cell.style) == "bold white on red"


def test_half_open_and_closed_breakers() -> None:
    half = breaker_cell({"state": "half_open", "since": "2026-01-02T03:03:55Z", "failures": 1}, NOW)
    assert (half.plain, str(half.style)) == ("half-open 10s, 1 failure", "bold yellow")
    closed = breaker_cell({"state": "closed", "since": "2026-01-01T22:00:00Z", "failures": 0}, NOW)
    assert (closed.plain, str(closed.style)) == ("closed", "green")
    counting = breaker_cell({"state": "closed", "since": "2026-01-01T22:00:00Z", "failures": 2}, NOW)
    assert counting.plain == "closed, 2 failures"


def test_no_breaker_or_uploads_in_the_snapshot() -> None:
    assert breaker_cell(None, NOW).plain == "-"
    assert uploads_cell(None).plain == "-"
    assert (uploads_cell([]).plain, str(uploads_cell([]).style)) == ("0", "dim")
    assert str(uploads_cell([{}]).style) == "bold yellow"


def test_since() -> None:
    assert since("2026-01-02T03:04:00Z", NOW) == "5s"
    assert since("2026-01-02T01:00:00+00:00", NOW) == "2h04m"
    assert since("2026-01-02T03:05:00Z", NOW) == "0s"  # a clock ahead of the server's
    assert since(None, NOW) == since("not a time", NOW) == since("2026-01-02T03:04:00Z", None) == "?"


def test_latencies_and_error_rates() -> None:
    assert [millis(x) for x in (None, 0.0004, 0.145, 1.25)] == ["-", "0.4 ms", "145.0 ms", "1.25 s"]
    assert [percent(*x).plain for x in ((0, 0), (0, 10), (7, 41))] == ["-", "0.0%", "17.1%"]
    assert str(percent(1, 900).style) == "red"
