"""Reads that share one remote command (`shared_read`), and the write epochs that bound them.

A view marked `@shared_read` answers identical concurrent requests of one user (same
route, same path values, same query parameters) with one run of the view, as long as
none of that user's writes on the system started or ended in between: every mutating
method bumps the user's write epoch on the system when it starts (`note_write`, a
before_request step) and again when it ends (`note_write_end`, a teardown step, which
runs before the answer goes out). The bump at the end matters: a read that started while
the write ran may have run its command before the write's; a read that starts once the
client has the write's answer must not share that command. The run's answer (or error)
goes to each request as it is: the views return fresh values and never change them.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from quart import g, request

from ._context import current_system, current_user, resolved_system, runtime

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def shared_read(view: F) -> F:
    """Let identical concurrent requests of one user share one run of `view` (a read-only view)."""

    @functools.wraps(view)
    async def shared(*args: Any, **kwargs: Any) -> Any:
        system, user = current_system(), current_user()
        key = (request.endpoint, tuple(sorted(kwargs.items())), tuple(sorted(request.args.items(multi=True))))
        return await runtime().reads.read(system.name, user.name, key, lambda: view(*args, **kwargs))

    return shared  # type: ignore[return-value]


def note_write(method: str) -> None:
    """`before_request` step after authentication: a mutating request (`method`) of a user on a
    system starts a new write epoch there, so no later read shares a command started before it."""
    _bump(method)


async def note_write_end(_exc: BaseException | None) -> None:
    """`teardown_request` step: the write has ended (however), before its answer is sent."""
    _bump(request.method)


def _bump(method: str) -> None:
    if method not in _WRITES:
        return
    system, user = resolved_system(), g.get("user")
    if system is not None and user is not None:
        runtime().reads.wrote(system.name, user.name)
