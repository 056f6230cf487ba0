"""Issue 31: a new user's first reconstruction compiles nothing.

Importing rembg imports pymatting, whose numba functions carry signatures and compile at import
(55-67 s on a cold numba cache). The backend never uses alpha matting, so a first job must import
neither pymatting nor numba. These run a real `python -m backend reconstruct` in a fresh process
with an empty numba cache; the time itself is measured by scripts/bench_backend.py, not here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from backend_test_support import APPLE, REPO_ROOT

PROBE = """
import json, sys
from backend.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"pymatting", "numba", "llvmlite", "rembg"})
print("PROBE " + json.dumps({"code": code, "heavy": heavy,
                             "rembg_sessions": "_slice3d_rembg_sessions.u2netp" in sys.modules}))
"""


def first_run(tmp_path: Path) -> tuple[dict, Path, dict]:
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "reconstruct", str(APPLE), "-o", str(tmp_path / "out"),
         "--resolution", "32", "--background", "remove"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    probe = json.loads(next(line for line in out.stdout.splitlines()
                            if line.startswith("PROBE "))[6:])
    result = json.loads((tmp_path / "out" / APPLE.stem / "result.json").read_text())
    return probe, cache, result


def test_first_reconstruction_imports_neither_pymatting_nor_numba(tmp_path):
    probe, cache, result = first_run(tmp_path)
    assert probe["code"] == 0
    assert result["mask_method"] == "rembg"  # the mask did come from rembg's u2netp session
    assert probe["rembg_sessions"]
    assert probe["heavy"] == [], f"a first job imported {probe['heavy']}"
    assert list(cache.rglob("*")) == []  # nothing compiled into the fresh numba cache
