"""Layer rules and import cycles, on this tree and on small trees built to break them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts/check_layers.py")
assert _spec and _spec.loader
check_layers = importlib.util.module_from_spec(_spec)
sys.modules["check_layers"] = check_layers  # dataclasses look their module up there
_spec.loader.exec_module(check_layers)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {"__init__.py": "", **files}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_this_tree_keeps_the_layer_rules_and_has_no_cycles() -> None:
    graph, violations = check_layers.import_graph(ROOT)
    assert [str(v) for v in violations] == []
    assert check_layers.cycles(graph) == []
    assert {"backend.contract", "client.contract"} <= set(graph)  # both sides were scanned


@pytest.mark.parametrize(("path", "text", "rule"), [
    ("backend/x.py", "import bpy\n", "backend/ never imports"),
    ("backend/x.py", "def f():\n    from training import train\n", "backend/ never imports"),
    ("backend/x.py", "from ..operators import reconstruct\n", "backend/ never imports"),
    ("operators/x.py", "import backend.pipeline\n", "the Blender side never imports"),
    ("ui/x.py", "from backend import contract\n", "the Blender side never imports"),
    ("client/x.py", "import bpy\n", "client/ is plain Python"),
    ("client/x.py", "from ..scene import build\n", "client/ is plain Python"),
])
def test_each_rule_is_caught(tmp_path: Path, path: str, text: str, rule: str) -> None:
    pkg_inits = {str(Path(path).parent / "__init__.py"): ""}
    _, violations = check_layers.import_graph(_tree(tmp_path, {**pkg_inits, path: text}))
    rules = {v.rule for v in violations}
    assert len(rules) == 1 and rules.pop().startswith(rule)


def test_a_cycle_behind_a_lazy_import_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "training/__init__.py": "",
        "training/a.py": "from training.b import y\n",
        "training/b.py": "def y():\n    from training import a\n",
        "operators/__init__.py": "",
        "operators/c.py": "from . import d\n",
        "operators/d.py": "from .c import x\n",
    })
    graph, _ = check_layers.import_graph(root)
    assert check_layers.cycles(graph) == [["operators.c", "operators.d"],
                                          ["training.a", "training.b"]]
    assert check_layers.main([str(root)]) == 1


def test_type_checking_imports_do_not_run_and_do_not_count(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "backend/__init__.py": "",
        "backend/a.py": "from .b import y\n",
        "backend/b.py": ("from typing import TYPE_CHECKING\n"
                         "if TYPE_CHECKING:\n    from .a import x\n"),
    })
    graph, _ = check_layers.import_graph(root)
    assert check_layers.cycles(graph) == []
    assert check_layers.main([str(root)]) == 0
