"""Users refused by policy (`auth.refused_users`, `auth.username_pattern`): 403, before any work."""

from __future__ import annotations

from typing import Any

import pytest

from f7tproxy import config
from f7tproxy.auth import LocalKeySource
from f7tproxy.observability import Metrics

from . import tokens
from .inprocess import in_process, make_config

AUTH = {"jwks_url": "http://127.0.0.1:9/unused", "issuer": tokens.ISSUER, "audiences": [tokens.AUDIENCE]}


def _source() -> LocalKeySource:
    return LocalKeySource(lambda: tokens.jwks(), "test keys")


async def _get(auth: dict[str, Any], user: str, metrics: Metrics | None = None) -> tuple[int, Any, list[Any]]:
    token = tokens.sign(tokens.claims(preferred_username=user))
    async with in_process(make_config(auth), key_source=_source(), metrics=metrics) as app:
        response = await app.client.get("/compute/cluster-a/probe", headers={"Authorization": f"Bearer {token}"})
        return response.status_code, await response.get_json(), app.reached


@pytest.mark.parametrize("user", ["root", "daemon", "nobody", "slurm", "svc$"])
async def test_root_system_accounts_and_machine_accounts_are_refused_by_default(user: str) -> None:
    metrics = Metrics()
    status, body, reached = await _get(AUTH, user, metrics)
    assert status == 403, body
    assert body == {"errorType": "error", "message": f"User '{user}' may not use this service", "data": None,
                    "user": None, "causedBy": None}  # fmt: skip
    assert reached == []
    assert metrics.registry.get_sample_value("f7tproxy_token_failures_total", {"reason": "refused_user"}) == 1


async def test_other_users_pass_and_names_that_are_not_posix_stay_401() -> None:
    assert (await _get(AUTH, "alice"))[0] == 200
    assert (await _get(AUTH, "first.last"))[0] == 200
    assert (await _get(AUTH, "Bob Smith"))[0] == 401


async def test_the_policy_is_configurable() -> None:
    site = {**AUTH, "refused_users": ["alice"], "username_pattern": "[a-z]+"}
    assert (await _get(site, "alice"))[0] == 403
    assert (await _get(site, "bob1"))[0] == 403
    # The list replaces the default one: a site that leaves root out has chosen to serve it.
    assert (await _get(site, "root"))[0] == 200
    assert (await _get(site, "bob"))[0] == 200


def test_defaults_and_check() -> None:
    auth = config.AuthConfig()
    assert "root" in auth.refused_users and auth.username_pattern == "[a-z_][a-z0-9_.-]{0,31}"
    assert auth.refuses("root") == "refused_users"
    assert auth.refuses("svc$") == "username_pattern"
    assert auth.refuses("a" * 33) == "username_pattern"
    assert auth.refuses("alice") is None
