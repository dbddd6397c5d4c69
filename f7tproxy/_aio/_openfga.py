"""OpenFGA's asyncio client (openfga-sdk, on aiohttp), driven from trio.

The SDK (with aiohttp, about 0.5 s of imports) loads only when a client is
opened, that is only when OpenFGA is configured: nothing here imports it at
module level. The client is created, used and closed on the asyncio side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..config import OpenFgaConfig
from ._loop import call_aio

if TYPE_CHECKING:
    from openfga_sdk.client import ClientConfiguration, OpenFgaClient


class OpenFgaChecks:
    """One open SDK client, answering OpenFGA Check calls; see `open_openfga`."""

    def __init__(self, client: OpenFgaClient) -> None:
        self._client = client

    async def check(self, user: str, relation: str, obj: str) -> bool:
        """Whether `user` holds `relation` on `obj`.

        Raises whatever the SDK raises, and ValueError for an answer without `allowed`.
        """
        response = await call_aio(_check, self._client, user, relation, obj)
        allowed = getattr(response, "allowed", None)
        if not isinstance(allowed, bool):
            raise ValueError(f"OpenFGA answered without 'allowed': {response!r}")
        return allowed

    async def aclose(self) -> None:
        """Close the client's HTTP session."""
        await call_aio(self._client.close)


async def open_openfga(config: OpenFgaConfig) -> OpenFgaChecks:
    """Open an SDK client for `config` on the asyncio loop (whose aiohttp session belongs to it)."""
    return OpenFgaChecks(await call_aio(_open_client, _client_configuration(config)))


def _client_configuration(config: OpenFgaConfig) -> ClientConfiguration:
    from openfga_sdk.client import ClientConfiguration
    from openfga_sdk.configuration import RetryParams
    from openfga_sdk.credentials import CredentialConfiguration, Credentials

    credentials = None
    if config.api_token is not None:
        credentials = Credentials(
            method="api_token", configuration=CredentialConfiguration(api_token=config.api_token.reveal())
        )
    return ClientConfiguration(
        api_url=config.url.rstrip("/"),
        store_id=config.store_id,
        authorization_model_id=config.authorization_model_id,
        credentials=credentials,
        # Our own deadline bounds the whole check; the SDK must not retry past it.
        retry_params=RetryParams(max_retry=0),  # type: ignore[no-untyped-call]  # SDK lacks hints
        timeout_millisec=max(1, int(config.timeout * 1000)),
    )


async def _open_client(configuration: ClientConfiguration) -> OpenFgaClient:
    # Runs on the asyncio loop: the client's aiohttp session belongs to that loop.
    from openfga_sdk.client import OpenFgaClient

    return OpenFgaClient(configuration)


async def _check(client: OpenFgaClient, user: str, relation: str, obj: str) -> Any:
    from openfga_sdk.client import ClientCheckRequest

    return await client.check(ClientCheckRequest(user=user, relation=relation, object=obj))
