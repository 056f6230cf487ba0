"""The Blender side's copy of the contract is the backend's, byte for byte (one source of truth)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_client_contract_is_a_byte_identical_copy() -> None:
    original = (ROOT / "backend/contract.py").read_bytes()
    copy = (ROOT / "client/contract.py").read_bytes()
    assert copy == original, "copy backend/contract.py to client/contract.py in the same commit"


def test_the_contract_imports_only_the_standard_library() -> None:
    tree = ast.parse((ROOT / "backend/contract.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "math", "dataclasses", "typing"}
