"""The connection to the shared Redis, with a deadline on every call.

coredis runs on trio itself (it is written against anyio), so it needs no asyncio
boundary: the client's connection pool lives in the task group `run` opens, and a
call is an ordinary trio await under `trio.fail_after`. It is imported only when a
Redis is configured (one process on one VM never loads it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from ..config import RedisConfig
from ..errors import SharedUnavailable
from ..observability import Metrics

if TYPE_CHECKING:
    import coredis

log = logging.getLogger(__name__)

T = TypeVar("T")

_WARN_EVERY = 30.0
"""While Redis stays unreachable, the warning is repeated at most this often (seconds)."""


class SharedStore:
    """One process's client of the shared Redis (`runtime.shared`).

    Until `run` has started, and whenever Redis fails, `call` raises SharedUnavailable
    at once or within `config.timeout`: callers fall back to local state.
    """

    def __init__(self, config: RedisConfig, metrics: Metrics) -> None:
        self.config = config
        self._metrics = metrics
        self._client: coredis.Redis[bytes] | None = None
        self._down_since: float | None = None
        self._warned_at: float | None = None
        self._scripts: dict[str, tuple[coredis.Redis[bytes], Any]] = {}

    @property
    def prefix(self) -> str:
        return self.config.key_prefix

    @property
    def reachable(self) -> bool:
        """False since the last call failed, until one succeeds (for the admin snapshot)."""
        return self._client is not None and self._down_since is None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the client's connection pool until cancelled. Starts even if Redis is down."""
        import coredis  # only here: a process without shared state never loads it

        client: coredis.Redis[bytes] = coredis.Redis.from_url(
            self.config.url, connect_timeout=self.config.timeout, stream_timeout=self.config.timeout
        )
        async with client:
            self._client = client
            try:
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._client = None

    async def call(self, what: str, fn: Callable[[coredis.Redis[bytes]], Awaitable[T]]) -> T:
        """`await fn(client)` within the deadline.

        Raises:
            SharedUnavailable: not started, Redis refused or failed, or the deadline passed;
                counted in `f7tproxy_shared_state_failures_total{what}` and logged.
        """
        client = self._client
        if client is None:
            self._failed(what, "not connected")
        assert client is not None
        try:
            with trio.fail_after(self.config.timeout):
                result = await fn(client)
        except trio.TooSlowError:
            self._failed(what, f"no answer within {self.config.timeout} s")
        except trio.Cancelled:
            raise
        except Exception as exc:  # coredis' errors, OSError, a script error: all mean "not now"
            self._failed(what, f"{type(exc).__name__}: {exc}")
        if self._down_since is not None:
            log.warning("shared state: Redis at %s answers again after %.1f s",
                        self.config.url, trio.current_time() - self._down_since)
            self._down_since = self._warned_at = None
        return result

    def script(self, client: coredis.Redis[bytes], source: str) -> Any:
        """The Lua script `source` registered with `client`, to call with `keys=` and `args=`."""
        # coredis' Script runs EVALSHA and loads the script on NOSCRIPT (a restarted Redis)
        bound = self._scripts.get(source)
        if bound is None or bound[0] is not client:
            bound = self._scripts[source] = (client, client.register_script(source))
        return bound[1]

    def _failed(self, what: str, why: str) -> None:
        self._metrics.shared_state_failed(what)
        now = trio.current_time()
        if self._down_since is None:
            self._down_since = now
        if self._warned_at is None or now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("shared state: Redis at %s unavailable for %s (%s); using this process's state",
                        self.config.url, what, why)
        raise SharedUnavailable(f"shared state unavailable: {why}") from None


def script_result(value: Any) -> Any:
    """A script's reply with bytes decoded (coredis returns bulk strings as bytes)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [script_result(v) for v in value]
    return value
