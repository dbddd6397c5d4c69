"""FirecREST v2's published OpenAPI document, and answers checked against it.

The documents are kept beside this file (`firecrest/`, unchanged copies of what
FirecREST publishes); `F7T_FIRECREST_SPEC` names another copy of the 2.5.6 one. `check_response` is an httpx
response hook: the API tests' clients run it on every answer, so each of them
also checks that f7tproxy answers as FirecREST's schemas say.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import re
from typing import Any

import attrs
import httpx
import jsonschema_rs
import yaml

SPEC_NAME = "firecrest-v2-2.5.6-openapi.yaml"
MASTER_NAME = "firecrest-v2-master-openapi.json"


def reference_file(name: str) -> pathlib.Path:
    """FirecREST's document `name` (kept in `firecrest/` beside this file)."""
    override = os.environ.get("F7T_FIRECREST_SPEC")
    if override and name == SPEC_NAME:
        return pathlib.Path(override)
    return pathlib.Path(__file__).resolve().parent / "firecrest" / name


@functools.cache
def spec() -> dict[str, Any]:
    """FirecREST v2.5.6's OpenAPI document."""
    return yaml.safe_load(reference_file(SPEC_NAME).read_text())  # type: ignore[no-any-return]


@functools.cache
def master_spec() -> dict[str, Any]:
    """FirecREST's development OpenAPI document (adds `name` and `time_window` to the job list)."""
    return json.loads(reference_file(MASTER_NAME).read_text())  # type: ignore[no-any-return]


@attrs.frozen
class SpecOperation:
    method: str
    template: str
    pattern: re.Pattern[str]
    body: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.body["operationId"])


@functools.cache
def operations() -> tuple[SpecOperation, ...]:
    found = []
    for template, methods in spec()["paths"].items():
        regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
        for method, body in methods.items():
            found.append(SpecOperation(method.upper(), template, re.compile(regex), body))
    return tuple(found)


def find_operation(method: str, path: str) -> SpecOperation | None:
    """The FirecREST operation serving `method path`, or None (not one of FirecREST's)."""
    for op in operations():
        if op.method == method and op.pattern.fullmatch(path):
            return op
    return None


@functools.cache
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    return jsonschema_rs.validator_for({**schema, "components": spec()["components"]})


def schema_problems(schema: dict[str, Any], value: Any) -> list[str]:
    """Why `value` does not match `schema` (a schema of FirecREST's document): none if it does."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [f"{'/'.join(map(str, e.instance_path)) or '<body>'}: {e.message}" for e in validator.iter_errors(value)]


def response_problems(method: str, path: str, status: int, content_type: str, body: bytes) -> list[str]:
    """Where an answer to `method path` differs from FirecREST's document (none: it conforms,
    or the route is not one of FirecREST's)."""
    op = find_operation(method, path)
    if op is None:
        return []
    responses = op.body["responses"]
    declared = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
    where = f"{method} {path} -> {status} ({op.operation_id})"
    if declared is None:
        return [f"{where}: status not in FirecREST's document ({', '.join(responses)})"]
    content = declared.get("content", {})
    if not content:
        return [] if not body else [f"{where}: FirecREST answers no body here, got {body[:80]!r}"]
    schema = content.get("application/json", {}).get("schema")
    if not schema:  # download: FirecREST streams the file with an empty schema
        return []
    if not content_type.startswith("application/json"):
        return [f"{where}: expected JSON, got content-type {content_type!r}"]
    try:
        value = json.loads(body)
    except ValueError as exc:
        return [f"{where}: not JSON: {exc}"]
    return [f"{where}: {p}" for p in schema_problems(schema, value)]


class ContractViolation(AssertionError):
    """An answer of f7tproxy that FirecREST's document does not allow."""


def check_response(response: httpx.Response) -> None:
    """httpx response hook: raise ContractViolation if the answer breaks FirecREST's document."""
    request = response.request
    if "text/event-stream" in response.headers.get("content-type", ""):
        return  # a stream (not one of FirecREST's operations), not to be read to the end here
    response.read()
    problems = response_problems(
        request.method, request.url.path, response.status_code, response.headers.get("content-type", ""),
        response.content,
    )  # fmt: skip
    if problems:
        raise ContractViolation("\n".join(problems))


HOOKS: dict[str, list[Any]] = {"response": [check_response]}
"""`event_hooks` for an httpx.Client whose every answer is checked against FirecREST's document."""
