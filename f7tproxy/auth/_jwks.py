"""The IdP's signing keys: fetched at start, cached, refreshed, refetched on unknown `kid`s.

    KeyStore.run                 a part of the root nursery
    ├── first load               one attempt, bounded by `jwks_timeout`, before the API opens
    └── refresh loop             every `jwks_refresh_interval`; with backoff while the IdP fails
    KeyStore.key_for(kid)        from a request: a cache hit, or one rate-limited refetch

If the IdP is down at start, f7tproxy still starts (liveness answers, the error is
logged loudly) and keeps retrying with backoff; until the first keys arrive, protected
requests get 503 with Retry-After, not 401, because their tokens are not known to be bad.
That keeps a restart of the IdP and the gateway in the wrong order from needing a second
restart. While the IdP is down later, the cached keys keep being used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs
import httpx
import trio
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from .._tls import client_context

log = logging.getLogger(__name__)

_MAX_BACKOFF = 60.0


class KeySourceError(Exception):
    """The keys could not be fetched or were not a JWKS."""


class KeySource(Protocol):
    """Where the keys come from."""

    description: str

    async def fetch(self) -> Mapping[str, Any]:
        """Return a JWKS document (`{"keys": [...]}`); raise `KeySourceError` on failure."""
        ...


class HttpKeySource:
    """A JWKS over HTTP(S): a configured URL, or `jwks_uri` from the issuer's OIDC discovery."""

    def __init__(self, *, jwks_url: str | None, issuer: str | None) -> None:
        if jwks_url is None and issuer is None:
            raise ValueError("a JWKS URL or an issuer is needed")
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._discovered: str | None = None
        self.token_endpoint: str | None = None
        """The IdP's OAuth2 token endpoint, once OIDC discovery has named it."""
        self.description = jwks_url or f"{issuer} (OIDC discovery)"

    async def _get_json(self, client: httpx.AsyncClient, url: str) -> Any:
        try:
            response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise KeySourceError(f"GET {url}: {exc or type(exc).__name__}") from None

    async def _jwks_uri(self, client: httpx.AsyncClient) -> str:
        if self._jwks_url is not None:
            return self._jwks_url
        if self._discovered is None:
            assert self._issuer is not None
            url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
            doc = await self._get_json(client, url)
            if not isinstance(doc, dict) or not isinstance(doc.get("jwks_uri"), str):
                raise KeySourceError(f"{url}: no jwks_uri in the discovery document")
            if doc.get("issuer") != self._issuer:
                # OIDC Discovery 4.3: the document must name the issuer it was fetched for.
                raise KeySourceError(f"{url}: names issuer {doc.get('issuer')!r}, expected {self._issuer!r}")
            self._discovered = doc["jwks_uri"]
            endpoint = doc.get("token_endpoint")
            self.token_endpoint = endpoint if isinstance(endpoint, str) else None
        return self._discovered

    async def fetch(self) -> Mapping[str, Any]:
        # Deadlines: the caller's trio.fail_after bounds the whole fetch; httpx's own
        # timeout is only a backstop.
        async with httpx.AsyncClient(timeout=30.0, follow_redirects=False, verify=client_context()) as client:
            uri = await self._jwks_uri(client)
            try:
                doc = await self._get_json(client, uri)
            except KeySourceError:
                self._discovered = None  # the IdP may have moved its JWKS: rediscover next time
                raise
        if not isinstance(doc, dict):
            raise KeySourceError(f"{uri}: not a JSON object")
        return doc


class LocalKeySource:
    """A JWKS document produced in this process (the demo issuer's), read like any other."""

    def __init__(self, jwks: Callable[[], Mapping[str, Any]], description: str) -> None:
        self._jwks = jwks
        self.description = description

    async def fetch(self) -> Mapping[str, Any]:
        return self._jwks()


@attrs.frozen
class KeySetSnapshot:
    """The keys in use: by `kid`, plus those that have none."""

    by_kid: Mapping[str, Key]
    unnamed: tuple[Key, ...]
    material: frozenset[str] = frozenset()
    """The keys as canonical JSON: a refresh that brings the same keys keeps the snapshot."""

    def __len__(self) -> int:
        return len(self.by_kid) + len(self.unnamed)


def parse_jwks(doc: Mapping[str, Any], source: str) -> KeySetSnapshot:
    """The signature keys of a JWKS document; keys that cannot be used are skipped and logged.

    Raises:
        KeySourceError: the document is not a JWKS.
    """
    keys = doc.get("keys") if isinstance(doc, Mapping) else None
    if not isinstance(keys, list):
        raise KeySourceError(f"{source}: not a JWKS (no 'keys' list)")
    by_kid: dict[str, Key] = {}
    unnamed: list[Key] = []
    material: set[str] = set()
    for raw in keys:
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
            continue
        try:
            key = JWKRegistry.import_key(raw)
        except (JoseError, ValueError, TypeError) as exc:
            log.warning("JWKS %s: skipping a key (kid %r): %s", source, raw.get("kid"), exc)
            continue
        if key.kid is None:
            unnamed.append(key)
        else:
            by_kid[key.kid] = key
        material.add(json.dumps(raw, sort_keys=True))
    return KeySetSnapshot(by_kid=by_kid, unnamed=tuple(unnamed), material=frozenset(material))


class KeysUnavailable(Exception):
    """No keys have been loaded yet (the IdP has not answered since start)."""


class KeyStore:
    """The cached signing keys of one token source."""

    def __init__(
        self,
        source: KeySource,
        *,
        timeout: float,
        refetch_interval: float,
        refresh_interval: float,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self.source = source
        self._timeout = timeout
        self._refetch_interval = refetch_interval
        self._refresh_interval = refresh_interval
        self._clock = clock
        self._keys: KeySetSnapshot | None = None
        self._lock = trio.Lock()
        self._last_attempt: float | None = None
        self._failures = 0
        self.fetches = 0
        """How many fetches were attempted (for tests and the admin snapshot)."""
        self._finished = 0
        """How many fetches have ended, however."""

    @property
    def loaded(self) -> bool:
        """Whether keys have been loaded at least once."""
        return self._keys is not None

    async def _fetch(self, why: str) -> bool:
        """Fetch and replace the keys; on failure keep the old ones. Hold `_lock`."""
        try:
            return await self._fetch_once(why)
        finally:
            self._finished += 1

    async def _fetch_once(self, why: str) -> bool:
        self._last_attempt = self._clock()
        self.fetches += 1
        try:
            with trio.fail_after(self._timeout):
                doc = await self.source.fetch()
            keys = parse_jwks(doc, self.source.description)
        except trio.TooSlowError:
            problem = f"no answer within {self._timeout:g} s"
        except KeySourceError as exc:
            problem = str(exc)
        else:
            if self._keys is None or set(keys.by_kid) != set(self._keys.by_kid):
                log.info("JWKS %s (%s): %d key(s), kids %s",
                         self.source.description, why, len(keys), sorted(keys.by_kid))
            if self._keys is None or keys.material != self._keys.material:
                # The same keys keep the same objects: validated tokens stay cached (`current`).
                self._keys = keys
            self._failures = 0
            return True
        self._failures += 1
        level = logging.ERROR if self._keys is None else logging.WARNING
        log.log(level, "JWKS %s (%s) failed: %s; %s", self.source.description, why, problem,
                "NO KEYS YET: every authenticated request gets 503" if self._keys is None
                else "keeping the cached keys")
        return False

    def _backoff(self) -> float:
        return min(_MAX_BACKOFF, self._refresh_interval, 2.0 ** (self._failures - 1))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Load the keys (one bounded attempt), report ready, then keep them fresh."""
        async with self._lock:
            ok = await self._fetch("start")
        task_status.started()
        while True:
            await trio.sleep(self._refresh_interval if ok else self._backoff())
            async with self._lock:
                ok = await self._fetch("refresh" if self._keys is not None else "retry")

    async def key_for(self, kid: str | None) -> Key | None:
        """The key a token names, refetching once (rate-limited) when `kid` is unknown.

        A token without `kid` gets the only key, if the set has exactly one.

        Raises:
            KeysUnavailable: no keys were ever loaded.
        """
        key = self._lookup(kid)
        if key is not None or kid is None:
            if key is None and self._keys is None:
                raise KeysUnavailable()
            return key
        finished = self._finished
        async with self._lock:
            # Another request may have refetched while this one waited for the lock: then
            # that attempt was this request's too (one at a time, so waits stay bounded by
            # jwks_timeout while the IdP hangs, instead of adding up one fetch per waiter).
            key = self._lookup(kid)
            if key is None and self._finished == finished and self._may_refetch():
                await self._fetch(f"unknown kid {kid!r}")
                key = self._lookup(kid)
        if key is None and self._keys is None:
            raise KeysUnavailable()
        return key

    def current(self, kid: str | None) -> Key | None:
        """The key `kid` names in the set in use now, without any refetch (None: none, or no keys)."""
        return self._lookup(kid)

    def _may_refetch(self) -> bool:
        if self._last_attempt is None:
            return True
        return self._clock() - self._last_attempt >= self._refetch_interval

    def _lookup(self, kid: str | None) -> Key | None:
        if self._keys is None:
            return None
        if kid is not None:
            return self._keys.by_kid.get(kid)
        if len(self._keys) == 1:
            return next(iter(self._keys.by_kid.values()), None) or self._keys.unnamed[0]
        return None

