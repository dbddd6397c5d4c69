"""Authorization of `/{system}/...` calls with an OpenFGA Check.

The SDK's asyncio client lives in `f7tproxy._aio` (`open_openfga`); this module
holds the trio side. Every check has a deadline; no answer, an error or an answer
without `allowed` is a 503, never an allow. Decisions (both ways) are reused for
`cache_ttl` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from .._aio import open_openfga
from ..config import OpenFgaConfig
from ..errors import Forbidden, ServiceUnavailable

log = logging.getLogger(__name__)

# (user, relation, object) -> allowed; raises on anything but a definite answer.
Ask = Callable[[str, str, str], Awaitable[bool]]

_CACHE_LIMIT = 10_000


class OpenFgaAuthorizer:
    """Answers "may this user use this system?" from OpenFGA, with a short-lived cache."""

    def __init__(
        self,
        config: OpenFgaConfig,
        *,
        ask: Ask | None = None,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.config = config
        self._ask: Ask | None = ask
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[bool, float]] = {}
        self.checks = 0
        """Checks sent to OpenFGA (not answered from the cache)."""

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the SDK client on the asyncio side, serve checks, close it on the way out."""
        if self._ask is not None:  # an injected backend (tests) needs no client
            task_status.started()
            await trio.sleep_forever()
        client = await open_openfga(self.config)
        self._ask = client.check
        try:
            task_status.started()
            await trio.sleep_forever()
        finally:
            self._ask = None
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                await client.aclose()

    def object_for(self, system: str) -> str:
        """The OpenFGA object standing for `system`."""
        return self.config.object.replace("{system}", system)

    async def check(self, user: str, system: str) -> None:
        """Return if `user` holds the configured relation on `system`'s object.

        Raises:
            Forbidden: OpenFGA says no.
            ServiceUnavailable: OpenFGA did not answer in time, failed, or is not started.
        """
        now = self._clock()
        cached = self._cache.get((user, system))
        if cached is not None and cached[1] > now:
            allowed = cached[0]
        else:
            allowed = await self._ask_openfga(user, system)
            if self.config.cache_ttl > 0:
                self._remember((user, system), allowed, now + self.config.cache_ttl)
        if not allowed:
            raise Forbidden(f"User '{user}' is not allowed to access system '{system}'")

    async def _ask_openfga(self, user: str, system: str) -> bool:
        ask = self._ask
        if ask is None:
            raise ServiceUnavailable("Authorization service is not available", retry_after=5)
        fga_user, relation, obj = f"user:{user}", self.config.relation, self.object_for(system)
        self.checks += 1
        try:
            with trio.fail_after(self.config.timeout):
                return await ask(fga_user, relation, obj)
        except trio.TooSlowError:
            problem = f"no answer within {self.config.timeout:g} s"
        except Exception as exc:  # any failure of the SDK or the server: deny by 503
            problem = f"{type(exc).__name__}: {exc}"
        log.error("OpenFGA check %s %s %s failed: %s", fga_user, relation, obj, problem)
        raise ServiceUnavailable("Unable to verify system access authorization", retry_after=5)

    def _remember(self, key: tuple[str, str], allowed: bool, until: float) -> None:
        if len(self._cache) >= _CACHE_LIMIT:
            now = self._clock()
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
        self._cache[key] = (allowed, until)
