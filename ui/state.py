"""The add-on's session state, owned here and nowhere else.

One backend manager (`MANAGER`), what the sidebar shows about the current and the last job (`UI`),
and the running environment installation (`INSTALL`). Operators, panels and the add-on's
register()/unregister() read and change them through this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..client.backend_process import BackendManager
from ..client.env_installer import EnvInstaller
from ..client.remote_job import JobOptions, RemoteJob
from ..client.views import Poses
from . import paths, settings

MANAGER = BackendManager(settings.backend_config)


@dataclass
class UiState:
    """What the sidebar shows about the current and the last job."""

    job: RemoteJob | None = None
    last_timings: dict[str, float] = field(default_factory=dict)
    last_message: str = ""
    last_error: bool = False  # whether last_message reports a failure
    last_collection: str = ""

    def say(self, message: str, error: bool = False) -> None:
        """What the panel shows under the Reconstruct button."""
        self.last_message, self.last_error = message, error

    def clear_error(self) -> None:
        """A failure reported earlier is stale (the backend was restarted successfully)."""
        if self.last_error:
            self.say("")

    @property
    def job_running(self) -> bool:
        return self.job is not None and not self.job.finished

    def cancel_job(self) -> None:
        """Cancel the current job if it still runs."""
        if self.job is not None and not self.job.finished:
            self.job.cancel()


@dataclass
class InstallState:
    """The environment installation started from the preferences (at most one)."""

    current: EnvInstaller | None = None

    @property
    def running(self) -> bool:
        return self.current is not None and not self.current.done

    def stop(self) -> None:
        """Never leave a pip process behind (unregister)."""
        current, self.current = self.current, None
        if current is not None and not current.done:
            current.cancel()


UI = UiState()
INSTALL = InstallState()


def start_job(image: bytes, name: str, options: JobOptions, more_images: list[bytes] | None = None,
              poses: Poses | None = None) -> RemoteJob:
    """A new job on this session's backend; it becomes the job the sidebar follows. With
    `more_images`, the job sends several photos of one object (ViewsError if it cannot)."""
    job = RemoteJob(image, name, options, MANAGER, paths.user_dir("downloads"),
                    more_images=list(more_images or ()), poses=poses or Poses())
    UI.job = job
    return job


def new_manager() -> BackendManager:
    """Another manager with this add-on's settings (what a reloaded add-on starts with)."""
    return BackendManager(settings.backend_config)
