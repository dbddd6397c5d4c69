"""The package's import graph, read with ast (TYPE_CHECKING and function-level imports included):
no import cycles between modules or between subpackages, and one package on the asyncio side.

The allow-lists below are what is known to be wrong today. They are to be emptied, and
each test asserts that its list is exactly what it finds, so a list can only shrink:
a new cycle fails, and so does a fixed one until it is struck off its list.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

PACKAGE = "f7tproxy"
ROOT = pathlib.Path(__file__).resolve().parent.parent / PACKAGE

ASYNCIO_SIDE = frozenset({"asyncio", "asyncssh", "trio_asyncio", "openfga_sdk"})
"""asyncio itself and the libraries that only run on it."""
ASYNCIO_PACKAGE = f"{PACKAGE}.ssh"
"""The one package that may import them (`ssh/_aio.py` is its bridge to trio)."""

# To be emptied: import cycles known today, each as the sorted modules of one group that
# import each other round (a strongly connected component of the import graph).
KNOWN_MODULE_CYCLES: set[tuple[str, ...]] = {
    # runtime.py holds the admin socket's RequestStats; admin's server and snapshot read the Runtime.
    ("f7tproxy.admin", "f7tproxy.admin._protocol", "f7tproxy.admin._server", "f7tproxy.admin._snapshot",
     "f7tproxy.runtime"),
    # The pool hands out leases; a lease reaches back into the pool.
    ("f7tproxy.ssh._lease", "f7tproxy.ssh._pool"),
}
KNOWN_PACKAGE_CYCLES: set[tuple[str, ...]] = {
    ("f7tproxy.admin", "f7tproxy.runtime"),
}
# To be emptied: modules outside ASYNCIO_PACKAGE that import the asyncio side today.
KNOWN_ASYNCIO_IMPORTERS: set[str] = {
    "f7tproxy.auth._openfga",  # openfga-sdk's client runs on asyncio
}


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imported(module: str, path: pathlib.Path) -> Iterator[str]:
    """Every module name `module` imports, at any level of its source."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                # `from . import _wire` imports the module _wire; `from ..auth import User`, the package.
                yield f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        graph[module] = {t for t in _imported(module, path) if t in MODULES and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.append(top)
                if top == node:
                    break
            if len(members) > 1:
                found.add(tuple(sorted(members)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _unit(module: str) -> str:
    """The subpackage (or top-level module) `module` belongs to: `f7tproxy.api._app` -> `f7tproxy.api`."""
    return ".".join(module.split(".")[:2])


def test_the_walker_sees_the_package() -> None:
    graph = _graph()
    assert "f7tproxy.api._context" in graph and "f7tproxy.runtime" in graph["f7tproxy.api._context"]
    # TYPE_CHECKING-only and relative imports of modules are edges too.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {("a", "b", "c")}


def test_no_import_cycles_between_modules() -> None:
    assert _cycles(_graph()) == KNOWN_MODULE_CYCLES


def test_no_import_cycles_between_subpackages() -> None:
    units: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        units.setdefault(_unit(module), set()).update(_unit(t) for t in targets if _unit(t) != _unit(module))
    assert _cycles(units) == KNOWN_PACKAGE_CYCLES


def test_only_one_package_imports_the_asyncio_side() -> None:
    importers = {
        module
        for module, path in MODULES.items()
        if any(name.split(".")[0] in ASYNCIO_SIDE for name in _imported(module, path))
    }
    assert any(m.startswith(f"{ASYNCIO_PACKAGE}.") for m in importers)
    assert {m for m in importers if _unit(m) != ASYNCIO_PACKAGE} == KNOWN_ASYNCIO_IMPORTERS
