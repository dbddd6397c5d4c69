"""The package's import graph, read from the source (imports under TYPE_CHECKING included).

- Only `f7tproxy._aio` imports the asyncio libraries (asyncio, asyncssh, trio-asyncio,
  openfga-sdk): it is the one asyncio boundary.
- No import circles, between modules or between the parts (subpackages).
"""

from __future__ import annotations

import ast
import pathlib

from .conftest import REPO

PACKAGE = REPO / "f7tproxy"
ASYNCIO_LIBRARIES = {"asyncio", "asyncssh", "trio_asyncio", "openfga_sdk"}
BOUNDARY = "f7tproxy._aio"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, pathlib.Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: pathlib.Path, modules: set[str]) -> set[str]:
    """Every module `name` imports (absolute names), wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            submodules = {f"{target}.{alias.name}" for alias in node.names} & modules
            # `from pkg import submodule` imports the submodule; `pkg` itself counts only when a
            # name is taken from its __init__ (a submodule's parent is imported first anyway).
            if len(submodules) < len(node.names):
                found.add(target)
            found.update(submodules)
    return found


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    modules = set(sources)
    return {name: _imports(name, path, modules) for name, path in sources.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in graph:
                continue
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_only_the_aio_package_imports_asyncio_libraries() -> None:
    outside = {
        name: sorted(lib for lib in imported if lib.partition(".")[0] in ASYNCIO_LIBRARIES)
        for name, imported in _graph().items()
        if name != BOUNDARY and not name.startswith(BOUNDARY + ".")
    }
    assert {name: libs for name, libs in outside.items() if libs} == {}


def test_the_aio_package_is_what_imports_them() -> None:
    # The check above must see the imports it forbids elsewhere.
    imported = set().union(*(libs for name, libs in _graph().items() if name.startswith(BOUNDARY)))
    assert {lib.partition(".")[0] for lib in imported} >= ASYNCIO_LIBRARIES


def test_no_import_circles_between_modules() -> None:
    assert _cycles(_graph()) == []


def test_no_import_circles_between_parts() -> None:
    parts: dict[str, set[str]] = {}
    for name, imported in _graph().items():
        part = _part(name)
        parts.setdefault(part, set()).update(
            _part(other) for other in imported if other.startswith("f7tproxy.") and _part(other) != part
        )
    assert len(parts) > 10 and _cycles(parts) == []


def _part(module: str) -> str:
    """`f7tproxy.ssh._pool` -> `f7tproxy.ssh`: the part (subpackage or top-level module) it belongs to."""
    return ".".join(module.split(".")[:2])


def test_the_circle_check_sees_circles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_admin_socket_does_not_import_the_runtime() -> None:
    # It owns the narrow `AdminSource` that Runtime satisfies.
    graph = _graph()
    assert {name for name, imported in graph.items() if name.startswith("f7tproxy.admin") and "f7tproxy.runtime" in imported} == set()
