"""The client package is plain Python: no bpy, nothing outside the standard library."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import ROOT

MODULES = sorted(p.stem for p in (ROOT / "client").glob("*.py") if p.stem != "__init__")


def test_every_module_imports_without_blender():
    code = ("import sys\n" + "".join(f"import client.{m}\n" for m in MODULES)
            + "print(sorted(n for n in sys.modules if n == 'bpy' or n.startswith('bpy.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_only_the_standard_library_and_the_package_itself():
    stdlib = sys.stdlib_module_names
    for path in (ROOT / "client").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in stdlib | {"__future__"}, (path.name, name)

