"""schemathesis runs FirecREST's own OpenAPI document against f7tproxy on the testbed.

Every operation of FirecREST's document gets a bounded number of generated requests
(valid ones by FirecREST's schemas, and some invalid ones), as the test user
fireuser2, with every path aimed into a scratch directory of its own; each answer
must pass schemathesis's checks: no server error, a status code and content type
the document declares, and a body matching the document's schema for that status.
Generation is derandomized, so a run is repeatable. Every job it gets submitted
(jobs and transfer jobs) is cancelled at the end.

`ALLOWED` lists the few failures that are FirecREST's document's, not f7tproxy's.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote, scratch
from .spec import SPEC_NAME, reference_file

pytestmark = pytest.mark.testbed

USER = "fireuser2"
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 8}
"""Generated requests per operation and mode: about 950 requests, well under a minute on the testbed."""
OPERATION_BUDGET = 20.0
"""Seconds one operation may take at most (a safety bound: the count above is the plan)."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

ALLOWED = {
    ("GET /filesystem/{system_name}/ops/download", "content_type_conformance"):
        "FirecREST's document says JSON (FastAPI's default); FirecREST, like f7tproxy, answers the file's bytes "
        "as application/octet-stream, and pyfirecrest reads them so",
}  # fmt: skip
"""(operation, check) failures that are FirecREST's document's, with the reason."""

_PATH_FIELDS = ("path", "sourcePath", "targetPath", "linkPath", "workingDirectory", "scriptPath",
                "standardInput", "standardOutput", "standardError")  # fmt: skip


@pytest.fixture
def scratch_dir(testbed: Testbed) -> Iterator[str]:
    """fireuser2's scratch directory, with a directory `d`, a file `f` and a link `l` in it."""
    for path in scratch(testbed, USER, "st"):
        remote(testbed, f"mkdir {path}/d && echo hello > {path}/f && ln -s f {path}/l", USER)
        yield path


def _inside(scratch: str, value: object) -> object:
    """A generated path, made one inside the scratch directory (a few fixed ones by name)."""
    if not isinstance(value, str) or "\0" in value:
        return value
    if value in ("d", "f", "l"):
        return f"{scratch}/{value}"
    joined = posixpath.normpath(f"{scratch}/{value.lstrip('/')}")
    return joined if joined.startswith(f"{scratch}/") else f"{scratch}/x"


def _aim(case: Any, scratch: str) -> None:
    """The configured system, and paths in the scratch directory, so requests reach the cluster."""
    if case.path_parameters and "system_name" in case.path_parameters:
        case.path_parameters["system_name"] = SYSTEM
    for name in _PATH_FIELDS:
        if case.query and name in case.query:
            case.query[name] = _inside(scratch, case.query[name])
    bodies = [case.body] if isinstance(case.body, dict) else []
    if bodies and isinstance(bodies[0].get("job"), dict):
        bodies.append(bodies[0]["job"])
    for body in bodies:
        for name in _PATH_FIELDS:
            if name in body:
                body[name] = _inside(scratch, body[name])


def _job_ids(answer: requests.Response) -> list[str]:
    try:
        body = answer.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    found = [body.get("jobId"), (body.get("transferJob") or {}).get("jobId")]
    return [str(j) for j in found if isinstance(j, str | int) and str(j).isdigit()]


def test_firecrest_document_against_f7tproxy(gateway: Gateway, testbed: Testbed, scratch_dir: str) -> None:
    schema = schemathesis.openapi.from_path(reference_file(SPEC_NAME))
    session = requests.Session()
    headers = {"Authorization": f"Bearer {gateway.token(USER)}"}
    failures: dict[tuple[str, str], str] = {}
    counts = {"cases": 0, "allowed": 0}
    jobs: set[str] = set()
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode, examples in EXAMPLES.items():
                deadline = time.monotonic() + OPERATION_BUDGET

                @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))  # fmt: skip
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case: Any) -> None:
                    if time.monotonic() > deadline:
                        return
                    _aim(case, scratch_dir)
                    answer = case.call(base_url=gateway.url, session=session, headers=headers, timeout=60)
                    counts["cases"] += 1
                    jobs.update(_job_ids(answer))
                    for check in CHECKS:
                        try:
                            case.validate_response(answer, checks=[check], headers=headers)
                        except (FailureGroup, AssertionError) as exc:  # a failed check: reported below
                            key = (operation.label, check.__name__)
                            if key in ALLOWED:
                                counts["allowed"] += 1
                            else:
                                failures.setdefault(key, f"{case.as_curl_command(headers)}\n{exc}"[:3000])

                try:
                    run()
                except Unsatisfiable:  # no invalid request possible (an operation without inputs)
                    assert mode is GenerationMode.NEGATIVE, operation.label
    finally:
        if jobs:
            remote(testbed, "scancel " + " ".join(sorted(jobs)), USER, check=False)
    print(f"schemathesis: {counts['cases']} cases, {len(failures)} failing (operation, check) pairs, "
          f"{counts['allowed']} allowed failures, {len(jobs)} jobs cancelled")  # fmt: skip
    assert counts["cases"] >= 35 * 5, counts
    summary = "".join(f"  {op} {check}\n" for op, check in failures)
    details = "\n\n".join(f"{op} {check}:\n{text}" for (op, check), text in failures.items())
    assert not failures, f"failing (operation, check) pairs:\n{summary}\n{details}"
