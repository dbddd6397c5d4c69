"""Clients generated from OpenAPI documents by openapi-python-client, against f7tproxy on the testbed.

A client generated from FirecREST's own document runs systems, ls, upload, submit,
job status and cancel against f7tproxy (its answers are also checked against
FirecREST's schemas by the response hook); and a client generated from f7tproxy's
`/openapi.json` has the same modules and functions as FirecREST's for every
FirecREST operation, so code written against one runs against the other.

Each client is generated once per session (about a second each) into a temporary
directory, without the generator's post-hooks (no formatter needed), and imported
under a package name of its own.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import pkgutil
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pytest

from ..conftest import Testbed
from ..gateway import SYSTEM, Gateway, remote
from .spec import HOOKS, SPEC_NAME, reference_file

pytestmark = pytest.mark.testbed

GENERATOR = pathlib.Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    """Where the session's generated clients are kept (a directory of packages put on sys.path)."""
    out = tmp_path_factory.mktemp("generated")
    sys.path.insert(0, str(out))
    yield out
    sys.path.remove(str(out))


@pytest.fixture(scope="session")
def firecrest_client(generated_dir: pathlib.Path) -> ModuleType:
    """The client generated from FirecREST's document (once per session)."""
    return generate(generated_dir, "firecrest_generated", reference_file(SPEC_NAME).read_text())


def generate(out: pathlib.Path, package: str, document: str) -> ModuleType:
    """The client generated from the OpenAPI document text `document` into `out`, imported as `package`."""
    source = out / (f"{package}.json" if document.lstrip().startswith("{") else f"{package}.yaml")
    source.write_text(document)
    config = out / "config.yaml"
    config.write_text("post_hooks: []\n")  # no ruff run: the generated code is used as generated
    subprocess.run(
        [str(GENERATOR), "generate", "--path", str(source), "--config", str(config), "--meta", "none",
         "--output-path", str(out / package), "--overwrite"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return importlib.import_module(package)


def functions(package: ModuleType) -> dict[str, set[str]]:
    """`tag.module` -> the public functions it defines, for every operation module of a generated client."""
    api = importlib.import_module(f"{package.__name__}.api")
    found = {}
    for tag in pkgutil.iter_modules(api.__path__):
        group = importlib.import_module(f"{api.__name__}.{tag.name}")
        for op in pkgutil.iter_modules(group.__path__):
            module = importlib.import_module(f"{group.__name__}.{op.name}")
            found[f"{tag.name}.{op.name}"] = {
                name for name, f in inspect.getmembers(module, inspect.isfunction)
                if not name.startswith("_") and f.__module__ == module.__name__
            }  # fmt: skip
    return found


def op(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.{name}")


def model(package: ModuleType, name: str) -> Any:
    return getattr(importlib.import_module(f"{package.__name__}.models"), name)


def test_firecrest_generated_client_against_f7tproxy(
    firecrest_client: ModuleType, gateway: Gateway, testbed: Testbed, workdir: str
) -> None:
    fc = firecrest_client
    with fc.AuthenticatedClient(
        base_url=gateway.url, token=gateway.token(), timeout=httpx.Timeout(60), raise_on_unexpected_status=True,
        httpx_args={"event_hooks": HOOKS},  # every answer checked against FirecREST's schemas too
    ) as client:  # fmt: skip
        run_operations(fc, client, testbed, workdir)


def run_operations(fc: ModuleType, client: Any, testbed: Testbed, workdir: str) -> None:
    systems = op(fc, "status.get_systems_status_systems_get").sync(client=client)
    assert [s.name for s in systems.systems] == [SYSTEM]

    # FirecREST's document gives the upload's `file` as OpenAPI 3.1's contentMediaType, which the
    # generator reads as text sent without a file name: the caller supplies the file part, as
    # against FirecREST itself (which needs the file name too).
    upload_body = model(fc, "BodyPostUploadFilesystemSystemNameOpsUploadPost")

    class FileBody(upload_body):  # type: ignore[misc]  # a class of the generated client
        def to_multipart(self) -> list[Any]:
            return [("file", ("generated.txt", self.file.encode(), "application/octet-stream"))]

    uploaded = op(fc, "filesystem.post_upload_filesystem_system_name_ops_upload_post").sync_detailed(
        SYSTEM, client=client, body=FileBody(file="from a generated client\n"), path=workdir
    )
    assert uploaded.status_code == 204, uploaded.content
    listing = op(fc, "filesystem.get_ls_filesystem_system_name_ops_ls_get").sync(SYSTEM, client=client, path=workdir)
    ((entry,),) = [[f for f in listing.output if f.name == "generated.txt"]]
    assert (entry.type_, entry.size, entry.user) == ("-", "24", "fireuser")

    job = model(fc, "JobDescriptionModel")(
        script="#!/bin/bash\nsleep 120\n", working_directory=workdir, name="f7t-generated"
    )
    submitted = op(fc, "compute.post_job_submit_compute_system_name_jobs_post").sync(
        SYSTEM, client=client, body=model(fc, "PostJobSubmitRequest")(job=job)
    )
    job_id = str(submitted.job_id)
    try:
        (status,) = op(fc, "compute.get_job_compute_system_name_jobs_job_id_get").sync(
            SYSTEM, job_id, client=client
        ).jobs
        assert str(status.job_id) == job_id and status.name == "f7t-generated"
        assert status.status.state in {"PENDING", "CONFIGURING", "RUNNING"}
        cancelled = op(fc, "compute.delete_job_cancel_compute_system_name_jobs_job_id_delete").sync_detailed(
            SYSTEM, job_id, client=client
        )
        assert cancelled.status_code == 204, cancelled.content
        deadline = time.monotonic() + 120
        while status.status.state != "CANCELLED":
            assert time.monotonic() < deadline, status.status.state
            time.sleep(0.5)
            (status,) = op(fc, "compute.get_job_compute_system_name_jobs_job_id_get").sync(
                SYSTEM, job_id, client=client
            ).jobs
    finally:
        remote(testbed, f"scancel {job_id}", check=False)


def test_f7tproxy_generated_client_has_firecrest_methods(
    firecrest_client: ModuleType, generated_dir: pathlib.Path, gateway: Gateway
) -> None:
    document = httpx.get(f"{gateway.url}/openapi.json", timeout=30)
    assert document.status_code == 200
    theirs = functions(firecrest_client)
    ours = functions(generate(generated_dir, "f7tproxy_generated", document.text))
    assert len(theirs) == 35 and all(theirs.values()), theirs
    missing = sorted(set(theirs) - set(ours))
    assert not missing, f"operations a FirecREST client has and f7tproxy's lacks: {missing}"
    differ = {name: (names, ours[name]) for name, names in theirs.items() if names != ours[name]}
    assert not differ, differ
