"""A bounded closed-loop load: N clients, each sending one request after another until stopped."""

from __future__ import annotations

import itertools
import time

import attrs
import httpx
import trio


@attrs.frozen
class Outcome:
    started: float
    ended: float
    path: str
    status: int | None
    """None: no answer (connection failed, timed out)."""
    error: str = ""


@attrs.define
class Load:
    """Runs until `stop` is set or `duration` passes; every request has `timeout`."""

    url: str
    token: str
    paths: list[str]
    clients: int = 50
    timeout: float = 15.0
    outcomes: list[Outcome] = attrs.Factory(list)
    stop: trio.Event = attrs.Factory(trio.Event)

    async def run(self, duration: float) -> None:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, limits=limits, timeout=self.timeout) as c:
            with trio.move_on_after(duration):
                async with trio.open_nursery() as nursery:
                    for i in range(self.clients):
                        nursery.start_soon(self._client, c, i)
                    await self.stop.wait()
                    nursery.cancel_scope.cancel()

    async def _client(self, c: httpx.AsyncClient, i: int) -> None:
        for path in itertools.islice(itertools.cycle(self.paths), i % len(self.paths), None):
            started = time.monotonic()
            try:
                r = await c.get(path)
                status: int | None = r.status_code
                error = "" if r.status_code < 400 else r.text[:200]
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            self.outcomes.append(Outcome(started, time.monotonic(), path, status, error))

    def failed(self, since: float = 0.0) -> list[Outcome]:
        """Requests started at or after `since` that got no answer or a 5xx."""
        return [o for o in self.outcomes if o.started >= since and (o.status is None or o.status >= 500)]

    def in_flight(self, at: float) -> int:
        return sum(1 for o in self.outcomes if o.started <= at < o.ended)

    def summary(self) -> str:
        statuses: dict[str, int] = {}
        for o in self.outcomes:
            key = str(o.status) if o.status is not None else "no answer"
            statuses[key] = statuses.get(key, 0) + 1
        slowest = max((o.ended - o.started for o in self.outcomes), default=0.0)
        return f"{len(self.outcomes)} requests {statuses}, slowest {slowest:.2f} s"
