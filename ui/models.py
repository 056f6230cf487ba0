"""What the panels say when the backend lacks its background-removal model (u2netp).

The folder is the one the backend itself reads (GET /health `models_dir`), so every message names
the place the model must go, and the command is the backend's own (`models_setup_command`).
"""

from __future__ import annotations

from ..client.backend_process import Status


def setup_command(status: Status) -> str:
    """The command that places the model where this backend reads it."""
    return (status.models_setup_command
            or f'python -m backend setup-models --dest "{status.models_dir}"')


def missing_text(status: Status, remote: bool) -> str:
    """The model is missing: where it must go, and how it gets there in this backend mode."""
    folder = status.models_dir
    if remote:
        return (f"The server has no background-removal model (u2netp) in {folder}, the folder "
                f"it reads. On the server, run `{setup_command(status)}` with its Python and "
                "restart it; until then only images with a transparent background work.")
    return (f"The background-removal model (u2netp) is not in {folder}, the folder this backend "
            "reads: press Install Background-Removal Model (add-on preferences) to place it "
            f"there, or run `{setup_command(status)}`. Until then only images with a "
            "transparent background work.")


def missing(status: Status) -> bool:
    """Whether a running backend reported the model missing."""
    return bool(status.models_dir) and not status.background_removal_ready
