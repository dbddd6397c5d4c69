"""f7tproxy's /openapi.json against FirecREST's: the same operations, as a generated client sees them.

Same paths, methods, operationIds, tags, parameters (name, place, required,
default), request bodies (content type and schema name) and success responses
(status and schema name). f7tproxy's extensions (an extra header or query
parameter) are allowed where the master document of FirecREST has them or
where their description says they are f7tproxy's.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..api.inprocess import app_over
from ..ssh.fakes import FakeServer
from .spec import master_spec, spec


@pytest.fixture
async def document() -> dict[str, Any]:
    async with app_over(FakeServer(slots=1, duration=0, connect_delay=0)) as (_, client):
        answer = await client.get("/openapi.json")
        assert answer.status_code == 200
        return await answer.get_json()  # type: ignore[no-any-return]


def _ops(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.upper(), p): op for p, methods in doc["paths"].items() for m, op in methods.items()}


def _ref(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _success(op: dict[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:
    (status,) = [s for s in op["responses"] if s.startswith("2")]
    content = op["responses"][status].get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return status, _ref(schema), tuple(content)


def _body(op: dict[str, Any]) -> tuple[str, str | None] | None:
    if "requestBody" not in op:
        return None
    ((kind, media),) = op["requestBody"]["content"].items()
    return kind, _ref(media["schema"])


async def test_same_operations_ids_and_tags(document: dict[str, Any]) -> None:
    ours, theirs = _ops(document), _ops(spec())
    assert set(theirs) <= set(ours), sorted(set(theirs) - set(ours))
    for key, op in theirs.items():
        assert ours[key]["operationId"] == op["operationId"], key
        assert set(ours[key]["tags"]) == set(op["tags"]), key


async def test_same_parameters(document: dict[str, Any]) -> None:
    ours, master = _ops(document), _ops(master_spec())
    for key, op in _ops(spec()).items():
        theirs = {(p["name"], p["in"]): p for p in master[key].get("parameters", [])}
        mine = {(p["name"], p["in"]): p for p in ours[key].get("parameters", [])}
        assert set(theirs) <= set(mine), (key, set(theirs) - set(mine))
        for name, p in theirs.items():
            assert mine[name]["required"] == p.get("required", False), (key, name)
            default = p["schema"].get("default")
            if default is not None:
                assert mine[name]["schema"].get("default") == default, (key, name)
        for name in set(mine) - set(theirs):
            assert "f7tproxy" in mine[name].get("description", ""), (key, name, "an extension must say so")


async def test_same_bodies_and_success_responses(document: dict[str, Any]) -> None:
    ours = _ops(document)
    for key, op in _ops(spec()).items():
        assert _body(ours[key]) == _body(op), key
        status, name, kinds = _success(op)
        my_status, my_name, my_kinds = _success(ours[key])
        assert (my_status, my_name) == (status, name), key
        if name is None and kinds:  # download: a file, not JSON
            assert my_kinds, key
        for code in ("4XX", "5XX"):
            schema = ours[key]["responses"][code]["content"]["application/json"]["schema"]
            assert _ref(schema) == "ApiResponseError", key


async def test_schemas_have_firecrest_fields(document: dict[str, Any]) -> None:
    mine, theirs = document["components"]["schemas"], spec()["components"]["schemas"]
    for name in ("GetSystemsResponse", "JobModel", "JobDescriptionModel", "ApiResponseError", "File", "FileStat",
                 "TransferJob", "PostJobSubmitRequest", "UserInfoResponse", "NodeModel", "PartitionModel"):  # fmt: skip
        assert name in mine, name
        missing = set(theirs[name].get("required", [])) - set(mine[name].get("required", []))
        assert not missing, (name, missing)
        assert set(mine[name]["properties"]) >= set(theirs[name]["properties"]) - {"dataOperation"}, name


async def test_security_schemes_without_a_known_token_url(document: dict[str, Any]) -> None:
    # No demo issuer and no OIDC discovery here: no token URL to give FirecREST's OAuth2 scheme
    # (tests/contract/test_answers.py checks it with the demo issuer).
    assert document["components"]["securitySchemes"] == {
        "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    assert document["security"] == [{"HTTPBearer": []}]
