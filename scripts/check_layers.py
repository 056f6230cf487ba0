"""Check the layer rules and import cycles of the source tree (docs/ARCHITECTURE.md, "Checks").

Every import that runs counts, those inside functions too, so a cycle cannot hide behind a lazy
import; only ``if TYPE_CHECKING:`` blocks are left out, because they never run.

    python scripts/check_layers.py [ROOT]     # prints violations and cycles; exit 1 if any
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BLENDER_SIDE = ("", "operators", "ui", "scene", "panels", "client")  # "" is the root __init__
BLENDER_MODULES = ("bpy", "bpy_extras", "mathutils", "addon_utils")
SCANNED = ("backend", "training", "client", "operators", "ui", "scene", "panels")


@dataclass(frozen=True)
class Violation:
    module: str
    imported: str
    rule: str

    def __str__(self) -> str:
        return f"{self.module or '__init__'} imports {self.imported}: {self.rule}"


def module_name(root: Path, path: Path) -> str:
    """Dotted name of a file under ROOT; the root ``__init__.py`` is the extension itself ("")."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path) -> Iterator[Path]:
    if (root / "__init__.py").exists():
        yield root / "__init__.py"
    for top in SCANNED:
        if (root / top).is_dir():
            yield from sorted(p for p in (root / top).rglob("*.py") if "__pycache__" not in p.parts)


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    parts = module.split(".") if module else []
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, *([target] if target else [])])


def imports_of(root: Path, path: Path) -> Iterator[str]:
    """Every module this file imports, absolute, including ``from pkg import submodule``."""
    module = module_name(root, path)
    is_package = path.name == "__init__.py"
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            yield base
            for alias in node.names:  # `from . import x` may name a submodule
                yield f"{base}.{alias.name}" if base else alias.name


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield child
                yield from _runtime_nodes(child)
            continue
        yield node
        yield from _runtime_nodes(node)


def _top(name: str) -> str:
    return name.split(".")[0]


def layer_of(module: str) -> str:
    top = _top(module)
    if top in ("backend", "training"):
        return top
    return "client" if top == "client" else "blender"


def check_rules(module: str, imported: str) -> str | None:
    """The rule an import breaks, or None."""
    layer, top = layer_of(module), _top(imported)
    if layer == "backend" and (top in BLENDER_MODULES or top == "training"
                               or top in BLENDER_SIDE[1:]):
        return "backend/ never imports bpy, training/ or the Blender side"
    if layer in ("client", "blender") and top in ("backend", "training"):
        return "the Blender side never imports backend/ or training/"
    if layer == "client" and (top in BLENDER_MODULES or top in ("operators", "ui", "scene")):
        return "client/ is plain Python: no bpy and no Blender-side package"
    return None


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[Violation]]:
    files = {module_name(root, p): p for p in source_files(root)}
    graph: dict[str, set[str]] = {name: set() for name in files}
    violations: list[Violation] = []
    for name, path in files.items():
        for imported in imports_of(root, path):
            rule = check_rules(name, imported)
            if rule:
                violations.append(Violation(name, imported, rule))
            if imported in files and imported != name:
                graph[name].add(imported)
    return graph, violations


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = stack[stack.index(node):]
            del stack[stack.index(node):]
            on_stack.difference_update(component)
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else Path(__file__).resolve().parents[1])
    graph, violations = import_graph(root)
    found = cycles(graph)
    for violation in violations:
        print(f"layer: {violation}")
    for component in found:
        print(f"cycle: {' <-> '.join(m or '__init__' for m in component)}")
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports, "
          f"{len(violations)} layer violations, {len(found)} cycles")
    return 1 if violations or found else 0


if __name__ == "__main__":
    raise SystemExit(main())
