"""A small stand-in for an ssh_service key service (FirecREST's SSHService shape), signing with a CA we hold.

No real key service exists on the testbed; this one answers
``POST /api/v1/ssh-keys`` with 201 ``{"sshKey": {"privateKey", "publicKey"}}``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import hypercorn.config
import hypercorn.trio
import trio

from f7tproxy._aio import (
    PrivateKey,
    generate_user_key,
    private_key_text,
    public_key_text,
    sign_user_certificate,
)


@attrs.define
class KeyServiceStub:
    ca: PrivateKey
    status: int = 201
    principal: str | None = None
    """Sign for this principal instead of the requested user (to test the check)."""
    lifetime: float = 60.0
    check_token_user: bool = False
    """Sign only for the user the bearer JWT names (`preferred_username`), as a real key service
    signs for the token's user; the signature is not checked here (the gateway checks user tokens)."""
    requests: list[dict[str, Any]] = attrs.Factory(list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append({"path": scope["path"], "method": scope["method"], "headers": headers, "json": request})
        answer: dict[str, Any] = {"description": "no"}
        status = self.status
        if self.check_token_user and token_user(headers.get("authorization", "")) != request.get("username"):
            status = 403
        if status == 201:
            key = generate_user_key()
            now = time.time()
            cert = sign_user_certificate(
                self.ca, key,
                principal=self.principal or request["username"],
                valid_after=now - 60, valid_before=now + self.lifetime, key_id="stub",
            )  # fmt: skip
            answer = {"sshKey": {"privateKey": private_key_text(key), "publicKey": public_key_text(cert)}}
        data = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})


def token_user(authorization: str) -> str | None:
    """The `preferred_username` of a bearer JWT (read, not verified)."""
    try:
        payload = authorization.removeprefix("Bearer ").split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["preferred_username"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


@asynccontextmanager
async def serve_key_service(stub: KeyServiceStub) -> AsyncIterator[str]:
    """Serve `stub` on 127.0.0.1 (a free port); yields its base URL."""
    config = hypercorn.config.Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(hypercorn.trio.serve, stub, config)
        yield binds[0]
        nursery.cancel_scope.cancel()
