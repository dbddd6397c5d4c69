"""HTTP details a generated client or a checker sees: a 405 names the allowed methods; OPTIONS is one."""

from __future__ import annotations

from ..api.inprocess import app_over
from ..auth import tokens
from ..ssh.fakes import FakeServer


async def test_405_names_the_allowed_methods() -> None:
    async with app_over(FakeServer(slots=2, duration=0, connect_delay=0)) as (_, client):
        auth = {"Authorization": f"Bearer {tokens.sign(tokens.claims(preferred_username='alice'))}"}
        wrong = await client.patch("/compute/fake/jobs", headers=auth)
        assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD, POST"
        assert set(await wrong.get_json()) == {"errorType", "message", "data", "user", "causedBy"}


async def test_options_is_not_allowed() -> None:
    # As in FirecREST: no automatic OPTIONS answers (f7tproxy serves no cross-origin requests).
    async with app_over(FakeServer(slots=2, duration=0, connect_delay=0)) as (_, client):
        for path, allowed in (("/compute/fake/jobs", "GET, HEAD, POST"), ("/status/systems", "GET, HEAD")):
            answer = await client.options(path)
            assert answer.status_code == 405 and answer.headers["Allow"] == allowed, path
            assert set(await answer.get_json()) == {"errorType", "message", "data", "user", "causedBy"}
