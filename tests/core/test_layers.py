"""The import graph of src/hyperhive points one way.

core/ is the daemon's parts without its dashboard: no module under it imports web/ (not even lazily or
behind TYPE_CHECKING); the daemon (hyperhive/daemon.py) puts the two together. And no module reaches back
up: the graph of every import in src/hyperhive (module level, inside functions, under TYPE_CHECKING) has no
cycle, so the services below the verbs never see the hive that holds them."""

from __future__ import annotations

import ast
from pathlib import Path

import hyperhive

SRC = Path(hyperhive.__file__).parent
CORE = SRC / "core"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved against its package."""
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def web_imports(root: Path) -> list[str]:
    return sorted(f"{path.relative_to(SRC)} imports {module}"
                  for path in root.rglob("*.py") for module in imported_modules(path)
                  if module == "hyperhive.web" or module.startswith("hyperhive.web."))


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of src/hyperhive it imports (`from pkg import sub` names both pkg, whose
    __init__ runs first, and pkg.sub). A module's own packages are left out: they run before it anyway."""
    paths = {module_name(path): path for path in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        own = {".".join(name.split(".")[:n]) for n in range(1, name.count(".") + 2)}
        graph[name] = {module for module in imported_modules(path) if module in paths and module not in own}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_core_never_imports_web() -> None:
    assert list(CORE.rglob("*.py")), CORE
    assert web_imports(CORE) == []


def test_the_check_sees_lazy_and_relative_imports() -> None:
    """The check itself can fail: a lazy absolute import and a relative one are both caught."""
    assert web_imports(SRC / "web")  # web/ imports itself relatively
    assert "hyperhive.web.server" in imported_modules(SRC / "daemon.py")


def test_no_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_graph_sees_type_checking_imports_and_cycles() -> None:
    """The cycle check can fail: an import under TYPE_CHECKING is an edge, and a loop is found."""
    graph = import_graph()
    assert "hyperhive.core.parts" in graph["hyperhive.core.verbs.host"]  # imported under TYPE_CHECKING only
    looped = graph | {"hyperhive.core.registry": graph["hyperhive.core.registry"] | {"hyperhive.core.hive"}}
    assert any({"hyperhive.core.hive", "hyperhive.core.registry"} <= set(c) for c in cycles(looped))
