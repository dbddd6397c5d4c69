"""Importing asyncssh without its search for liboqs through gcc and ld when liboqs is absent.

asyncssh's `asyncssh.crypto.pq`, run by `import asyncssh`, looks for liboqs (the
library behind the post-quantum sntrup761 key exchange) with
`ctypes.util.find_library("oqs")`, then `("liboqs")`. On Linux each call runs
`ldconfig -p`, then gcc, then ld when the library is not there, as on most hosts:
six processes, 20-80 ms of every start. asyncssh then loads what it found by its
soname, which the dynamic loader finds only through LD_LIBRARY_PATH, its cache
(/etc/ld.so.cache) or its default directories. `import_asyncssh` looks for the
name in those places first, without a process: where none holds it, there is no
library asyncssh could load, and the answer is None at once; where one does,
`find_library` runs as before and asyncssh uses what it finds.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import os
from collections.abc import Iterator

LOADER_CACHE = "/etc/ld.so.cache"
DEFAULT_DIRECTORIES = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")
"""Where glibc's loader looks after LD_LIBRARY_PATH and its cache (x86_64 included)."""


def loadable(name: str) -> bool:
    """Whether the dynamic loader may find a ``lib<name>.*`` (as `find_library(name)` names it).

    True also when the loader's cache cannot be read: then the full search decides.
    """
    prefix = f"lib{name}."
    try:
        with open(LOADER_CACHE, "rb") as cache:
            if prefix.encode() in cache.read():
                return True
    except OSError:
        return True
    directories = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d] + list(DEFAULT_DIRECTORIES)
    for directory in directories:
        with contextlib.suppress(OSError):
            if any(entry.startswith(prefix) for entry in os.listdir(directory)):
                return True
    return False


@contextlib.contextmanager
def _find_library_only_if_loadable() -> Iterator[None]:
    full_search = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        return full_search(name) if loadable(name) else None

    ctypes.util.find_library = find_library
    try:
        yield
    finally:
        ctypes.util.find_library = full_search


def import_asyncssh() -> None:
    """Import asyncssh (once per process), its liboqs search cut short where liboqs is absent."""
    with _find_library_only_if_loadable():
        import asyncssh  # noqa: F401
