"""Slurm over SSH: command builders, output parsers, the option policy and the backend."""

from ._backend import SlurmBackend

__all__ = ["SlurmBackend"]
