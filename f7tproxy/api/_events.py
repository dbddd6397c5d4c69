"""f7tproxy's event streams (Server-Sent Events) on the compute routes: a job's changes and its output.

Both are served by the process's job watchers (`f7tproxy.events`): whatever the
number of listeners, a user costs the cluster one scheduler query per interval and
one read per followed file. Errors known before the stream starts (unknown job,
too many streams, shutting down) are FirecREST error bodies with their status;
once it has started, an error is an `error` event and the stream ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from quart import Response, request

from .. import errors
from ..events import (
    Failed,
    Item,
    JobChanged,
    KeepAlive,
    OutputEnd,
    OutputLine,
    Shutdown,
    comment,
    event,
    last_event_id,
)
from ..scheduler import JobMetadata
from ._compute import compute
from ._context import current_system, current_user, invalid, lease, query_str, runtime
from ._openapi import Param, operation
from ._wire import to_wire

_RESUME = (Param("Last-Event-ID", {"type": "string"}, "Resume after this event (what EventSource sends on reconnect)"),)
_STREAM = Param("stream", {"type": "string", "enum": ["stdout", "stderr"], "default": "stdout"}, "Which output file")


class EventStream:
    """A response body of events that closes its listener however the response ends,
    even if it is never read (the client left before the first byte)."""

    def __init__(self, items: AsyncIterator[Item], close: Callable[[], None], encode: Callable[[Item], bytes]) -> None:
        self._items = items
        self._close = close
        self._encode = encode

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> bytes:
        return self._encode(await self._items.__anext__())

    async def aclose(self) -> None:
        self._close()
        await self._items.aclose()  # type: ignore[attr-defined]

    def __del__(self) -> None:
        self._close()


def _response(body: EventStream) -> Response:
    response = Response(body, content_type="text/event-stream; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
    response.timeout = None  # a stream lasts as long as its job, not RESPONSE_TIMEOUT
    return response


def _encode(item: Item) -> bytes:
    if isinstance(item, JobChanged):
        return event("job", to_wire(item.job), item.seq)
    if isinstance(item, OutputLine):
        return event("line", item.text, item.offset)
    if isinstance(item, OutputEnd):
        return event("end", {"offset": item.offset}, item.offset)
    if isinstance(item, Failed):
        body = errors.error_body(item.error)
        return event("error", {**body, "status": errors.kind_of(item.error).status})
    if isinstance(item, Shutdown):
        return event("shutdown", {"message": "The server is shutting down; reconnect with Last-Event-ID"})
    assert isinstance(item, KeepAlive)
    return comment("keep-alive")


def _resume_from() -> int | None:
    return last_event_id(request.headers.get("Last-Event-ID"))


@compute.get("/<system>/jobs/<job_id>/events")
@operation(
    "Follow a job's state (f7tproxy extension, Server-Sent Events)", tag="compute", response=str,
    media_type="text/event-stream", headers=_RESUME,
    description="`event: job` with the job (as in `GET .../jobs/{jobId}`) now and after each change of its "
    "state, reason, exit code or nodes; `id:` numbers the changes. The stream ends after a finished state (with its exit code). "
    "A comment line comes after `events.keepalive` seconds without events; `event: shutdown` when the "
    "server stops. An unknown job is 404 before the stream starts; past the user's cap, 429.",
)  # fmt: skip
async def job_events(system: str, job_id: str) -> Response:
    """A job's state now and at each change, until it has finished."""
    context, user = current_system(), current_user()
    job_id = context.job_id(job_id)
    listener = await runtime().events.follow_job(context.name, user.name, user.token, job_id, _resume_from())
    return _response(EventStream(listener.items(), listener.close, _encode))


@compute.get("/<system>/jobs/<job_id>/output")
@operation(
    "Follow a job's output (f7tproxy extension, Server-Sent Events)", tag="compute", response=str,
    media_type="text/event-stream", query=(_STREAM,), headers=_RESUME,
    description="`event: line` per line appended to the job's standard output (or error) file, its text as a "
    "JSON string, `id:` the byte offset after it; lines longer than `events.max_line_length` bytes come in "
    "pieces. `event: end` once the job has ended and the file is read to its end. Read as the user, with "
    "their permissions (an unreadable file is an `error` event). From the start, or from `Last-Event-ID`.",
)  # fmt: skip
async def job_output(system: str, job_id: str) -> Response:
    """The lines of a job's output file, as they are written, until the job has ended."""
    context, user = current_system(), current_user()
    job_id = context.job_id(job_id)
    which = query_str("stream") or "stdout"
    if which not in ("stdout", "stderr"):
        raise invalid("query", "stream", "expected stdout or stderr")

    async def lookup() -> JobMetadata:
        async with lease() as held:
            return (await context.jobs.get_job_metadata(held, job_id))[0]

    watchers = runtime().events
    # Looked up once for all the job's streams (concurrent ones share the lookup).
    found = await watchers.paths.get((context.name, user.name, job_id), lookup)
    path = found.standard_output if which == "stdout" else found.standard_error
    if not path:
        raise errors.NotFound(f"The job's {which} file is not known (the scheduler no longer holds the job)")
    listener = watchers.follow_output(context.name, user.name, user.token, job_id, path, _resume_from() or 0)
    return _response(EventStream(listener.items(), listener.close, _encode))
