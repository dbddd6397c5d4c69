"""The transfer tests use the filesystem tests' gateway and work directories."""

from ..filesystem.conftest import gateway, workdir

__all__ = ["gateway", "workdir"]
