"""Filesystem ops on the clusters: path checks, command builders, output readers, the ops.

    _paths.py     absolute, normalised paths inside the cluster's file systems
    _commands.py  argument lists of the remote commands (never shell text)
    _parse.py     readers of their output; failures mapped to API errors
    _names.py     owner and group names of listed files, kept per cluster
    _ops.py       the ops, each run as the user on one SSH lease
"""

from . import _ops as ops
from ._commands import COMPRESSIONS, Compression
from ._names import OwnerNames
from ._parse import checked, command_error
from ._paths import check_file_name, check_path, inside, normalise

__all__ = [
    "COMPRESSIONS",
    "Compression",
    "OwnerNames",
    "check_file_name",
    "check_path",
    "checked",
    "command_error",
    "inside",
    "normalise",
    "ops",
]
