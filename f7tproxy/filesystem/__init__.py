"""Filesystem ops on the clusters: path checks, command builders, output readers, the ops.

    _paths.py     absolute, normalised paths inside the cluster's file systems
    _commands.py  argument lists of the remote commands (never shell text)
    _parse.py     readers of their output; failures mapped to API errors
    _ops.py       the ops, each run as the user on one SSH lease
"""

from . import _ops as ops
from ._commands import COMPRESSIONS, Compression
from ._parse import checked, command_error
from ._paths import check_file_name, check_path, inside, normalise

__all__ = [
    "COMPRESSIONS",
    "Compression",
    "check_file_name",
    "check_path",
    "checked",
    "command_error",
    "inside",
    "normalise",
    "ops",
]
