"""Create the backend's Python environment in the extension's user folder (venv + pip).

Runs one command at a time as a subprocess, logging everything to install.log, so the UI can follow
it from a timer. The CUDA build of torch is chosen when `nvidia-smi` finds a GPU.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import bpy

from . import paths, process
from .reconstruct import Throttle

TORCH_INDEX_CPU = "https://download.pytorch.org/whl/cpu"
TORCH_INDEX_CUDA = "https://download.pytorch.org/whl/cu128"


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


def install_commands(base_python: str, cuda: bool) -> list[tuple[str, list[str]]]:
    """(label, argv) steps: the venv, pip itself, torch for this machine, the requirements."""
    req_dir = os.path.join(paths.ADDON_ROOT, "requirements")
    venv_py = paths.venv_python()
    constraints = os.path.join(req_dir, "constraints.txt")
    pip = [venv_py, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    return [
        ("Creating the environment", [base_python, "-m", "venv", paths.venv_dir()]),
        ("Updating pip", [*pip, "--upgrade", "pip"]),
        ("Installing PyTorch (" + ("CUDA" if cuda else "CPU") + ")",
         [*pip, "-c", constraints, "torch", "--index-url",
          TORCH_INDEX_CUDA if cuda else TORCH_INDEX_CPU]),
        ("Installing the backend's packages",
         [*pip, "-r", os.path.join(req_dir, "backend.txt"), "-c", constraints]),
        ("Installing the background-removal model", [venv_py, "-m", "backend", "setup-models"]),
        ("Keeping the model in the user folder",
         [venv_py, "-c", "import os, shutil, sys; os.makedirs(sys.argv[2], exist_ok=True); "
          "shutil.copy2(sys.argv[1], sys.argv[2])",
          os.path.join(paths.ADDON_ROOT, ".models", "u2net", "u2netp.onnx"),
          paths.models_dir()]),
        ("Checking the backend", [venv_py, "-m", "backend", "info"]),
    ]


class EnvInstaller:
    """Step through install_commands; poll() is non-blocking."""

    def __init__(self, steps: list[tuple[str, list[str]]], log_path: str) -> None:
        self.steps = steps
        self.index = -1
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path
        self.log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in _close)
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
        label, argv = self.steps[self.index]
        self.log.write(f"\n=== {label}: {' '.join(argv)}\n")
        self.log.flush()
        env = dict(os.environ)
        env.pop("PYTHONHOME", None)
        env["PYTHONPATH"] = paths.backend_root()
        try:
            self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=paths.backend_root(),
                                         env=env)
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


INSTALL: dict[str, EnvInstaller] = {}


class SLICE3D_OT_install_backend(bpy.types.Operator):
    """Create a Python environment for the backend in the extension's user folder and install
    its packages from the internet (PyTorch with CUDA when an NVIDIA GPU is found)"""

    bl_idname = "slice3d.install_backend"
    bl_label = "Install Backend Environment"

    _timer = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not bpy.app.online_access:
            cls.poll_message_set("Online access is off (Preferences > System > Network)")
            return False
        if "current" in INSTALL and not INSTALL["current"].done:
            cls.poll_message_set("An installation is already running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        log = os.path.join(paths.user_dir(), "install.log")
        installer = EnvInstaller(install_commands(process.blender_python(), has_nvidia_gpu()), log)
        INSTALL["current"] = installer
        if bpy.app.background or context.window is None:
            while not installer.done:
                installer.poll()
                if installer.proc is not None:
                    installer.proc.wait()
            return self._finish(context, installer)
        installer.poll()
        self._throttle = Throttle(0.5)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.5, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type != "TIMER" or not self._throttle.ready():
            return {"PASS_THROUGH"}
        installer = INSTALL["current"]
        installer.poll()
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        if not installer.done:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._finish(context, installer)

    def cancel(self, context: bpy.types.Context) -> None:
        INSTALL["current"].cancel()
        context.window_manager.event_timer_remove(self._timer)

    def _finish(self, context: bpy.types.Context, installer: EnvInstaller) -> set[str]:
        if installer.error:
            self.report({"ERROR"}, installer.error)
            return {"CANCELLED"}
        from .settings import addon_prefs

        prefs = addon_prefs()
        if prefs is not None:
            prefs.backend_mode = "INSTALLED"
        self.report({"INFO"}, "Backend environment installed")
        return {"FINISHED"}


class SLICE3D_OT_install_cancel(bpy.types.Operator):
    """Stop the running installation"""

    bl_idname = "slice3d.install_cancel"
    bl_label = "Cancel Installation"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return "current" in INSTALL and not INSTALL["current"].done

    def execute(self, context: bpy.types.Context) -> set[str]:
        INSTALL["current"].cancel()
        return {"FINISHED"}


def stop_all() -> None:
    """unregister: never leave a pip process behind."""
    current = INSTALL.pop("current", None)
    if current is not None and not current.done:
        current.cancel()


CLASSES = (SLICE3D_OT_install_backend, SLICE3D_OT_install_cancel)
