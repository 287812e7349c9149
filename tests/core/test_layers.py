"""core/ is the daemon's parts without its dashboard: no module under it imports web/ (not even lazily or
behind TYPE_CHECKING). The daemon (hyperhive/daemon.py) puts the two together."""

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


def test_core_never_imports_web() -> None:
    assert list(CORE.rglob("*.py")), CORE
    assert web_imports(CORE) == []


def test_the_check_sees_lazy_and_relative_imports() -> None:
    """The check itself can fail: a lazy absolute import and a relative one are both caught."""
    assert web_imports(SRC / "web")  # web/ imports itself relatively
    assert "hyperhive.web.server" in imported_modules(SRC / "daemon.py")
