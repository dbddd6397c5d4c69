"""f7tproxy: a FirecREST-v2-compatible web gateway to HPC clusters."""

from ._version import __version__

__all__ = ["__version__"]
