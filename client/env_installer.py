"""Create the backend's Python environment (venv + pip), one subprocess at a time.

Each command runs as a subprocess logging everything to one log file, so a UI can follow it from a
timer through the non-blocking `EnvInstaller.poll()`. The CUDA build of torch is chosen when
`nvidia-smi` finds a GPU.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

TORCH_INDEX_CPU = "https://download.pytorch.org/whl/cpu"
TORCH_INDEX_CUDA = "https://download.pytorch.org/whl/cu128"

Step = tuple[str, list[str]]  # (label, argv)


@dataclass(frozen=True)
class InstallPlaces:
    """Where an installation reads from and writes to."""

    addon_root: str  # the extension's folder: backend/, requirements/
    venv_dir: str  # the environment to create
    models_dir: str  # where the background-removal model is kept (survives updates)

    @property
    def venv_python(self) -> str:
        return venv_python(self.venv_dir)


def venv_python(venv_dir: str) -> str:
    """The interpreter inside a virtual environment (may not exist yet)."""
    if os.name == "nt":
        return os.path.join(venv_dir, "Scripts", "python.exe")
    return os.path.join(venv_dir, "bin", "python")


def has_nvidia_gpu() -> bool:
    """True when nvidia-smi runs and lists at least one GPU."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def install_commands(base_python: str, cuda: bool, places: InstallPlaces) -> list[Step]:
    """(label, argv) steps: the venv, pip itself, torch for this machine, the requirements."""
    req_dir = os.path.join(places.addon_root, "requirements")
    venv_py = places.venv_python
    constraints = os.path.join(req_dir, "constraints.txt")
    pip = [venv_py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    return [
        ("Creating the environment", [base_python, "-m", "venv", places.venv_dir]),
        ("Updating pip", [*pip, "--upgrade", "pip"]),
        ("Installing PyTorch (" + ("CUDA" if cuda else "CPU") + ")",
         [*pip, "-c", constraints, "torch", "--index-url",
          TORCH_INDEX_CUDA if cuda else TORCH_INDEX_CPU]),
        ("Installing the backend's packages",
         [*pip, "-r", os.path.join(req_dir, "backend.txt"), "-c", constraints]),
        ("Installing the background-removal model",
         models_setup_argv(venv_py, places.models_dir)),
        ("Checking the backend", [venv_py, "-m", "backend", "info"]),
    ]


def models_setup_argv(python: str, models_dir: str) -> list[str]:
    """Place u2netp.onnx in `models_dir`, the folder the backend reads (its GET /health
    models_dir; for the Installed Environment the user folder's models/u2net, which the add-on
    hands the server it starts as U2NET_HOME)."""
    return [python, "-m", "backend", "setup-models", "--dest", models_dir]


class EnvInstaller:
    """Step through install_commands; poll() is non-blocking."""

    def __init__(self, steps: list[Step], log_path: str, backend_root: str = "") -> None:
        self.steps = steps
        self.index = -1
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = log_path
        self.backend_root = backend_root  # the working folder and PYTHONPATH of every step
        self.log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in _finish)
        self.error = ""
        self.done = False
        self.packages_seen = 0

    @property
    def label(self) -> str:
        if self.done:
            return "Failed" if self.error else "Installed"
        return self.steps[self.index][0] if 0 <= self.index < len(self.steps) else "Starting"

    @property
    def progress(self) -> float:
        """Whole steps done plus a guess within pip steps from the packages it reports."""
        if self.done:
            return 1.0
        within = min(0.9, self.packages_seen / 60.0)
        return max(0.0, (self.index + within) / len(self.steps))

    def poll(self) -> None:
        """Follow the running step; start the next one when it has succeeded."""
        if self.done:
            return
        if self.proc is not None:
            code = self.proc.poll()
            self._count_packages()
            if code is None:
                return
            if code != 0:
                self._finish(f"{self.label} failed (exit code {code}); see {self.log_path}")
                return
        self.index += 1
        self.packages_seen = 0
        if self.index >= len(self.steps):
            self._finish("")
            return
        self._launch(*self.steps[self.index])

    def run_sync(self) -> None:
        """Run every step to the end, blocking (headless)."""
        while not self.done:
            self.poll()
            if self.proc is not None:
                self.proc.wait()

    def _launch(self, label: str, argv: list[str]) -> None:
        self.log.write(f"\n=== {label}: {' '.join(argv)}\n")
        self.log.flush()
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)
        if self.backend_root:
            env["PYTHONPATH"] = self.backend_root
        try:
            self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         cwd=self.backend_root or None, env=env)
        except OSError as exc:
            self._finish(f"{label} could not start: {exc}")

    def _count_packages(self) -> None:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            return
        tail = text.rsplit("\n=== ", 1)[-1]
        self.packages_seen = len(re.findall(r"^(Collecting|Requirement already)", tail, re.M))

    def cancel(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._finish("Cancelled")

    def _finish(self, error: str) -> None:
        self.error, self.done = error, True
        self.log.close()
