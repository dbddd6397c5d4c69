"""PBS over SSH: command builders, output parsers, the option policy and the backend."""

from ._backend import PbsBackend

__all__ = ["PbsBackend"]
