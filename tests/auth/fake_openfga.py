"""A small server that speaks OpenFGA's HTTP Check API, for tests.

No OpenFGA server can be installed here (none is packaged on PyPI, npm or Debian;
Go is not available), so the tests talk to this instead. It implements the
documented Check endpoint, which openfga-sdk uses unchanged:

    POST /stores/{store_id}/check
    {"tuple_key": {"user": "user:alice", "relation": "member", "object": "vcluster:a"},
     "authorization_model_id": "...", "contextual_tuples": {...}, "consistency": "..."}
    200 {"allowed": true|false, "resolution": ""}
    400 {"code": "validation_error", "message": ...}   malformed request or unknown type
    404 {"code": "store_id_not_found", "message": ...}
    401 {"code": "unauthenticated", "message": ...}    when an API token is required

The model it evaluates is the one FirecREST implies: `type user`, `type vcluster`
with `define member: [user]`; answers come from direct tuples only.
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import hypercorn.config
import hypercorn.trio
import trio
from quart import Response, request
from quart_trio import QuartTrio

MODEL = {"user": set(), "vcluster": {"member"}}
STORE_ID = "01HVMMBCMGZNT3SED4Z17ECXCA"
MODEL_ID = "01HVMMBCMGZNT3SED4Z17ECXCB"


@attrs.define
class FakeOpenFga:
    tuples: set[tuple[str, str, str]] = attrs.field(factory=set)
    """(user, relation, object) tuples that hold."""
    api_token: str | None = None
    """When set, requests must carry `Authorization: Bearer <api_token>`."""
    delay: float = 0.0
    """Seconds to wait before answering (a slow OpenFGA)."""
    fail_status: int | None = None
    """Answer every check with this status (an unhealthy OpenFGA)."""
    omit_allowed: bool = False
    """Answer 200 without the `allowed` field."""
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    """Bodies of the check requests received."""
    headers: list[dict[str, str]] = attrs.field(factory=list)

    def app(self) -> QuartTrio:
        app = QuartTrio("fake-openfga")

        def error(status: int, code: str, message: str) -> Response:
            return Response(json.dumps({"code": code, "message": message}), status, content_type="application/json")

        @app.post("/stores/<store_id>/check")
        async def check(store_id: str) -> Response:
            body = await request.get_json(force=True, silent=True)
            self.headers.append(dict(request.headers))
            if self.api_token is not None and request.headers.get("Authorization") != f"Bearer {self.api_token}":
                return error(401, "unauthenticated", "unauthenticated")
            if store_id != STORE_ID:
                return error(404, "store_id_not_found", f"store {store_id} not found")
            self.requests.append(body)
            if self.delay:
                await trio.sleep(self.delay)
            if self.fail_status is not None:
                return error(self.fail_status, "internal_error", "internal server error")
            key = body.get("tuple_key") if isinstance(body, dict) else None
            if not isinstance(key, dict) or not all(isinstance(key.get(f), str) for f in ("user", "relation", "object")):
                return error(400, "validation_error", "invalid CheckRequest.TupleKey")
            model_id = body.get("authorization_model_id")
            if model_id not in (None, "", MODEL_ID):
                return error(400, "authorization_model_not_found", f"model {model_id} not found")
            obj_type, _, _ = key["object"].partition(":")
            if obj_type not in MODEL:
                return error(400, "type_not_found", f"type '{obj_type}' not found")
            if key["relation"] not in MODEL[obj_type]:
                return error(400, "relation_not_found", f"relation '{obj_type}#{key['relation']}' not found")
            answer: dict[str, Any] = {"resolution": ""}
            if not self.omit_allowed:
                answer["allowed"] = (key["user"], key["relation"], key["object"]) in self.tuples
            return Response(json.dumps(answer), 200, content_type="application/json")

        return app

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve on 127.0.0.1 at a free port; report the base URL."""
        config = hypercorn.config.Config()
        config.bind = ["127.0.0.1:0"]
        config.accesslog = None
        config.errorlog = None

        async def serve(*, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
            await hypercorn.trio.serve(self.app(), config, task_status=task_status)

        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve)
            task_status.started(binds[0])
