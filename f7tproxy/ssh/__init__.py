"""SSH to the clusters (asyncssh behind a trio-native API)."""

from ._aio import asyncio_loop, call_aio

__all__ = ["asyncio_loop", "call_aio"]
