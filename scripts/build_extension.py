"""Build (and validate) the extension zip with Blender's own extension tool.

Runs without a Blender binary: the bpy wheel ships Blender's `blender_ext.py` command line, the
same code behind `blender --command extension build|validate`.

    python scripts/build_extension.py [--output-dir dist] [--no-validate]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blender_ext_cli() -> str:
    """Path of blender_ext.py inside the installed bpy wheel (or a Blender install's scripts)."""
    env = os.environ.get("BLENDER_EXT_CLI")
    if env:
        return env
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.origin:
        raise SystemExit("bpy is not installed: pip install bpy (or set BLENDER_EXT_CLI)")
    base = os.path.dirname(spec.origin)
    for version in sorted(os.listdir(base), reverse=True):
        path = os.path.join(base, version, "scripts", "addons_core", "bl_pkg", "cli",
                            "blender_ext.py")
        if os.path.isfile(path):
            return path
    raise SystemExit(f"blender_ext.py not found under {base}")


def zip_name() -> str:
    with open(os.path.join(ROOT, "blender_manifest.toml"), "rb") as fh:
        manifest = tomllib.load(fh)
    return f"{manifest['id']}-{manifest['version']}.zip"


def build(output_dir: str, validate: bool = True) -> str:
    """Build the zip into output_dir, validate it, and return its path."""
    os.makedirs(output_dir, exist_ok=True)
    cli = blender_ext_cli()
    out = os.path.join(output_dir, zip_name())
    if os.path.exists(out):
        os.remove(out)
    subprocess.run([sys.executable, cli, "build", "--source-dir", ROOT, "--output-filepath", out],
                   check=True)
    if validate:
        subprocess.run([sys.executable, cli, "validate", out], check=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=os.path.join(ROOT, "dist"))
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args()
    print(build(os.path.abspath(args.output_dir), validate=not args.no_validate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
