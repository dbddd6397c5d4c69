"""The process's one trio-asyncio loop, and the bridge that awaits asyncio coroutines from trio."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import trio_asyncio  # type: ignore[import-untyped]  # (no py.typed)

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def asyncio_loop() -> AsyncIterator[None]:
    """Open the process's one trio-asyncio loop around the root nursery.

    trio-asyncio finds its loop through a context variable, so every task that
    calls `call_aio` must be started inside this block: `serve` wraps its whole
    root nursery in it.
    """
    async with trio_asyncio.open_loop() as loop:
        # trio-asyncio's default handler re-raises into the loop's nursery, so one
        # stray error in an asyncio callback would end the whole process.
        loop.set_exception_handler(_log_asyncio_error)
        yield


def _log_asyncio_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    log.error("asyncio: %s", context.get("message", "unhandled error"), exc_info=exc)


async def call_aio(fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Await the asyncio coroutine function `fn(*args, **kwargs)` from trio.

    Cancelling the trio caller cancels the asyncio task (and waits until it has
    finished). Must run inside `asyncio_loop()`.
    """
    result: T = await trio_asyncio.aio_as_trio(fn)(*args, **kwargs)
    return result
