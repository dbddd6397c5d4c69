"""The asyncio boundary: the only module that imports asyncio and trio-asyncio.

asyncssh and openfga-sdk are asyncio libraries. They run on one trio-asyncio loop
opened around the root nursery (`asyncio_loop`); the rest of f7tproxy calls them
through `call_aio`, as trio code, with trio's cancellation and deadlines.
"""

from __future__ import annotations

import asyncio  # noqa: F401  (kept here on purpose: this is the boundary)
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ParamSpec, TypeVar

import trio
import trio_asyncio

P = ParamSpec("P")
T = TypeVar("T")


@contextlib.asynccontextmanager
async def asyncio_loop() -> AsyncIterator[None]:
    """Open the process's one trio-asyncio loop around the root nursery.

    trio-asyncio finds its loop through a context variable, so every task that
    calls `call_aio` must be started inside this block: `serve` wraps its whole
    root nursery in it.
    """
    async with trio_asyncio.open_loop():
        yield


async def call_aio(fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Await the asyncio coroutine function `fn(*args, **kwargs)` from trio.

    Cancelling the trio caller cancels the asyncio task. Must run inside `asyncio_loop()`.
    """
    return await trio_asyncio.aio_as_trio(fn)(*args, **kwargs)
