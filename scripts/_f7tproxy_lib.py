"""Puts the zipapp's lib/ on sys.path, after the unpacked site-packages this module is in.

scripts/build-zipapp copies this file into the zipapp's site-packages/ with
`f7tproxy-lib.pth`, whose one line imports it: both ways a start takes (the
zipapp's launcher and shiv's bootstrap) add the unpacked site-packages with
`site.addsitedir`, which runs that line, so both end with the same sys.path.
lib/ holds the distributions that need not be files on disk; zipimport imports
them from the archive. The archive is the one __main__ came from, named as on
sys.path[0] (where Python found __main__.py): zipimport reuses the directory of
the archive it read then.

lib/ and its packages get zipimport's importer, with these differences:

- It reads the archive through a descriptor opened here, with the directory
  read at the start: the file this process started from, even once it has been
  replaced by a new one (an upgrade before the restart). zipimport opens the
  path for every read, at the offsets of the directory it read at the start,
  and fails on a new file.
- get_filename: Python 3.11's reads, decompresses and unmarshals a module to
  name its file, and the import system asks for that name just before it loads
  the module the same way again. This one names it from the archive's directory,
  as the load finds it (the .pyc beside the source first).
- get_code, for a module the archive holds no bytecode for: zipimport compiles
  it at every import. This one compiles it once and keeps the bytecode in
  lib-bytecode/ beside this site-packages (one directory per build, as
  site-packages is: the sources never change under it), unless sys.dont_write_bytecode
  (python -B) is set or the directory is not writable.
"""

import marshal
import os
import sys
import zipimport
import zlib
from importlib.util import MAGIC_NUMBER, source_hash

ARCHIVE = os.path.dirname(sys.modules["__main__"].__file__)
LIB = os.path.join(ARCHIVE, "lib")
CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib-bytecode")
_FD = os.open(ARCHIVE, os.O_RDONLY)  # not inherited (PEP 446)
_FILES = zipimport.zipimporter(ARCHIVE)._files  # the directory Python read to run __main__.py
_HASHED_UNCHECKED = (1).to_bytes(4, "little")


class LibImporter(zipimport.zipimporter):
    def __init__(self, path):
        super().__init__(path)
        self._files = _FILES

    def invalidate_caches(self):
        """Nothing: the directory stays that of the file this process reads."""

    def _read(self, name):
        """The data of the archive's entry `name` (as zipimport reads it, through the descriptor)."""
        _path, compress, size, _file_size, offset, _time, _date, _crc = self._files[name]
        header = os.pread(_FD, 30, offset)
        if header[:4] != b"PK\x03\x04":
            raise zipimport.ZipImportError(f"bad local file header: {ARCHIVE!r}", path=ARCHIVE)
        start = offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        data = os.pread(_FD, size, start)
        if len(data) != size:
            raise OSError(f"zipimport: can't read data: {ARCHIVE!r}")
        return zlib.decompress(data, -15) if compress else data

    def get_data(self, pathname):
        key = pathname[len(ARCHIVE) + 1 :] if pathname.startswith(ARCHIVE + os.sep) else pathname
        if key not in self._files:
            raise OSError(0, "", key)
        return self._read(key)

    def get_source(self, fullname):
        path = self.prefix + fullname.rpartition(".")[2]
        for source in (path + "/__init__.py", path + ".py"):
            if source in self._files:
                return self._read(source).decode()
        return super().get_source(fullname)  # None or zipimport's error

    def _entry(self, fullname):
        """The archive's entry the load takes (zipimport's order) and whether it is bytecode."""
        path = self.prefix + fullname.rpartition(".")[2]
        for suffix, bytecode, _package in zipimport._zip_searchorder:
            if path + suffix in self._files:
                return path + suffix, bytecode
        return None, False

    def get_filename(self, fullname):
        name, _bytecode = self._entry(fullname)
        if name is None:
            return super().get_filename(fullname)  # raises zipimport's error
        return self._files[name][0]

    def get_code(self, fullname):
        name, bytecode = self._entry(fullname)
        if name is None:
            return super().get_code(fullname)  # raises zipimport's error
        if bytecode:
            data = self._read(name)
            if data[:8] != MAGIC_NUMBER + _HASHED_UNCHECKED:  # not what build-zipapp ships
                return super().get_code(fullname)
            return marshal.loads(memoryview(data)[16:])
        cached = os.path.join(CACHE, name + "c")
        try:
            with open(cached, "rb") as fd:
                data = fd.read()
            if data[:4] == MAGIC_NUMBER:
                return marshal.loads(data[16:])
        except (OSError, ValueError, EOFError, TypeError):
            pass
        source = self._read(name).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        code = compile(source, self._files[name][0], "exec", dont_inherit=True)
        if not sys.dont_write_bytecode:
            try:
                os.makedirs(os.path.dirname(cached), exist_ok=True)
                partial = f"{cached}.{os.getpid()}"
                with open(partial, "wb") as fd:
                    fd.write(MAGIC_NUMBER + _HASHED_UNCHECKED + source_hash(source) + marshal.dumps(code))
                os.replace(partial, cached)
            except OSError:
                pass
        return code


def path_hook(path):
    if path != LIB and not path.startswith(LIB + os.sep):
        raise ImportError("not in the zipapp's lib/", path=path)
    return LibImporter(path)


sys.path_hooks.insert(0, path_hook)
sys.path.append(LIB)
