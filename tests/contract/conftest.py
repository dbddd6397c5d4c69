"""The contract tests use the filesystem tests' gateway (the testbed, S3 staging included)."""

from ..filesystem.conftest import gateway, workdir

__all__ = ["gateway", "workdir"]
