"""Fixtures for the filesystem tests: one gateway per module and a fresh directory per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conftest import Testbed
from ..gateway import Gateway, run_gateway, scratch


@pytest.fixture(scope="module")
def gateway(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    yield from run_gateway(tmp_path_factory.mktemp("gateway"), testbed)


@pytest.fixture
def workdir(testbed: Testbed) -> Iterator[str]:
    """A fresh directory of fireuser's in /scratch/fireuser (0700), removed afterwards."""
    yield from scratch(testbed)
