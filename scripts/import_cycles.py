# ruff: noqa: INP001 - scripts/ holds tools, not a package
"""Fail when modules of the integration or the simulator import each other in a circle.

    scripts/run python scripts/import_cycles.py [PACKAGE_DIR ...]

Reads every module's imports without importing anything, also those inside functions
and those only made for type checking (a module that names another's types depends on
it), and prints each cycle found; exit status 1 when there is one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (ROOT / "custom_components" / "wsd_scan", ROOT / "simulator")


def module_name(path: Path) -> str:
    """Return the dotted name of the module at `path` (from its outermost package)."""
    root = next(
        parent for parent in path.parents if not (parent / "__init__.py").exists()
    )
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, known: set[str]) -> Iterator[str]:
    """Yield the modules among `known` that the module at `path` imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from package import module` imports the module itself.
                if (submodule := f"{base}.{alias.name}") in known:
                    yield submodule
                elif base in known:
                    yield base


def cycles(packages: Iterable[Path]) -> list[list[str]]:
    """Return one list of modules per import cycle among the packages' modules."""
    paths = {module_name(p): p for pkg in packages for p in sorted(pkg.rglob("*.py"))}
    known = set(paths)
    graph = {name: set(imports(path, known)) - {name} for name, path in paths.items()}
    # Tarjan's strongly connected components: every component of more than one
    # module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def main(argv: list[str]) -> int:
    """Print the cycles among the given package folders (default: ours); 1 if any."""
    found = cycles([Path(arg).resolve() for arg in argv] or PACKAGES)
    for cycle in found:
        print("import cycle:", " ↔ ".join(cycle))  # noqa: T201 - a command-line tool
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
