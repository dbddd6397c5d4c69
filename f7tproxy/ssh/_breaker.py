"""A circuit breaker per cluster: fail fast while its login node is unreachable.

    closed ──(`failures` consecutive failures, or one failed probe)──> open
    open ──(`retry_after` passed: the next caller is the one trial)──> half_open
    half_open ──(the trial, or anything else, failed)──> open
    any ──(one success: a connect, a command, a healthy probe)──> closed

The pool owns one per cluster and feeds it (connects, dropped connections,
refused channels); the health checker feeds it its ssh probe results through
`probe_result`. Callers ask `admit()` before they wait for SSH: while open, it
raises CircuitOpen (503 with Retry-After) at once. Plain (non-async) methods,
like the pool's: no locks needed.
"""

from __future__ import annotations

import datetime
import logging
import math
from collections.abc import Callable
from typing import Literal

import attrs
import trio

from ..config import BreakerConfig
from ..errors import CircuitOpen

log = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]


@attrs.frozen
class BreakerStatistics:
    """One cluster's breaker at one instant."""

    state: BreakerState
    since: datetime.datetime
    """Wall-clock time (UTC) the current state began."""
    failures: int
    """Consecutive failures counted since the last success."""
    last_failure: str | None
    """What the last failure was (None before any)."""
    opened: int
    """Times the breaker opened."""
    fast_failed: int
    """Callers refused at once because it was open."""
    retry_in: float
    """Seconds until the next trial is let through (0 unless open)."""


class CircuitBreaker:
    """Counts connection failures of one cluster and refuses callers while it is open."""

    def __init__(
        self,
        system: str,
        config: BreakerConfig,
        *,
        on_change: Callable[[BreakerState, CircuitOpen | None], None] | None = None,
    ) -> None:
        """`on_change(state, error)` is called on every state change; `error` (the
        answer for callers) is set when the breaker opens. It must not block or raise."""
        self.system = system
        self._config = config
        self._on_change = on_change
        self._state: BreakerState = "closed"
        self._since = datetime.datetime.now(datetime.UTC)
        self._opened_at = 0.0
        self._failures = 0
        self._last_failure: str | None = None
        self._trial = False
        self._opened = 0
        self._fast_failed = 0

    @property
    def state(self) -> BreakerState:
        return self._state

    # ------------------------------------------------------------------ callers

    def admit(self) -> bool:
        """Let a caller through, or refuse it.

        Returns True if the caller is the half-open trial: it must call
        `end_trial()` once it is done, whatever happened. Raises CircuitOpen
        while the breaker is open (and while a trial is under way).
        """
        if self._state == "closed":
            return False
        self._half_open_if_due()
        if self._state == "half_open" and not self._trial:
            self._trial = True
            return True
        self._fast_failed += 1
        raise self.error()

    def check(self) -> None:
        """Refuse (CircuitOpen) if `admit()` would refuse now; unlike it, take no trial and count nothing."""
        if self._state == "closed":
            return
        self._half_open_if_due()
        if self._state == "open" or self._trial:
            raise self.error()

    def end_trial(self) -> None:
        """The trial caller is done (its outcome, if any, came through `success`/`failure`)."""
        self._trial = False

    def error(self) -> CircuitOpen:
        """The answer for a refused caller, with the seconds until the next trial as Retry-After."""
        wait = self._opened_at + self._config.retry_after - trio.current_time()
        retry = max(1.0, math.ceil(wait)) if self._state == "open" else max(1.0, self._config.retry_after)
        why = f" ({self._last_failure})" if self._last_failure else ""
        return CircuitOpen(f"The SSH login node of {self.system} is unreachable{why}", retry_after=retry)

    # ------------------------------------------------------------------ outcomes

    def failure(self, reason: str) -> None:
        """A connect failed, a connection dropped, a channel was refused: count it."""
        self._failures += 1
        self._last_failure = reason
        if self._state == "half_open" or (self._state == "closed" and self._failures >= self._config.failures):
            self._open()

    def success(self) -> None:
        """A connect or a command worked: close the breaker."""
        self._failures = 0
        if self._state != "closed":
            log.warning("circuit breaker of %s: closed again (was %s)", self.system, self._state)
            self._trial = False
            self._set("closed")

    def probe_result(self, healthy: bool, message: str | None) -> None:
        """The ssh health probe's verdict: one failed probe opens the breaker, a healthy one closes it."""
        if healthy:
            self.success()
            return
        self._failures += 1
        if self._state != "open":  # (while open, the probe's failure is likely this breaker's own answer)
            self._last_failure = f"health probe: {message}" if message else "health probe failed"
            self._open()

    # ------------------------------------------------------------------ state

    def _open(self) -> None:
        self._opened_at = trio.current_time()
        self._opened += 1
        self._trial = False
        log.warning("circuit breaker of %s: open after %d failure(s): %s", self.system, self._failures,
                    self._last_failure)
        self._set("open", self.error())

    def _half_open_if_due(self) -> None:
        if self._state == "open" and trio.current_time() >= self._opened_at + self._config.retry_after:
            self._set("half_open")

    def _set(self, state: BreakerState, error: CircuitOpen | None = None) -> None:
        self._state = state
        self._since = datetime.datetime.now(datetime.UTC)
        if self._on_change is not None:
            self._on_change(state, error)

    def statistics(self) -> BreakerStatistics:
        """A frozen snapshot (an open breaker whose wait is over shows half_open)."""
        self._half_open_if_due()
        retry_in = max(0.0, self._opened_at + self._config.retry_after - trio.current_time())
        return BreakerStatistics(
            state=self._state,
            since=self._since,
            failures=self._failures,
            last_failure=self._last_failure,
            opened=self._opened,
            fast_failed=self._fast_failed,
            retry_in=retry_in if self._state == "open" else 0.0,
        )


__all__ = ["BreakerState", "BreakerStatistics", "CircuitBreaker"]
