"""The batch on a Ray cluster: Ray actors, each holding one loaded model, fed image by image.

Each actor (``ReconstructWorker``) keeps a ``backend.pipeline.Reconstructor`` with its predictor
loaded, so the model is loaded once per actor, not once per image. An actor asks for one GPU
where the cluster has GPUs, else ``--cpus-per-worker`` CPUs. Actors read the images and write
the bundles themselves, with the backend's own bundle writer, so INPUT_DIR and OUT must be the
same paths on every node (a shared filesystem); only the summary records travel back.

The dispatcher below is small and ours, over Ray's own actors and ``ray.wait``: Ray's ActorPool
keeps handing a dead actor work and cannot tell which image an actor's death took with it. Here
an actor's death puts the image it was running back in the queue (at most ``max_attempts``
tries, so an image that kills its worker every time ends as failed), the images queued behind it
go back without losing a try, and a new actor takes the dead one's place. Reference:
docs/BATCH.md. Ray is optional: requirements/ray.txt.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .batch import Emit, Record, Runner, Task, is_finished, reconstruct_task, record
from .errors import BackendError
from .options import ReconstructOptions

RAY_MISSING = "Ray is not installed: pip install -r requirements/ray.txt"
PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)  # the folder that holds backend/
DEPTH = 2  # images queued on an actor at once: the next one waits there while one runs
WAIT_S = 2.0


def import_ray() -> Any:
    """Ray, or the one-line message that says how to get it."""
    try:
        import ray
    except ImportError as exc:
        raise BackendError("ray_missing", RAY_MISSING) from exc
    return ray


@dataclass(frozen=True)
class RaySettings:
    """How to reach the cluster and how many actors to run on it."""

    address: str = "auto"  # "auto", HOST:PORT of the head, or "local" (a cluster for this run)
    workers: int | None = None  # actors; None: one per GPU, else one per cpus_per_worker CPUs
    device: str = "auto"  # auto: GPU actors where the cluster has GPUs; cpu; cuda
    cpus_per_worker: int = 1
    max_attempts: int = 3  # tries per image when its actor dies under it
    start_timeout_s: float = 300.0  # no actor ready and nothing done for this long: give up


class ReconstructWorker:
    """A Ray actor's body: one Reconstructor, its predictor loaded at start, reused per image."""

    def __init__(self, device: str, predictor: str, threads: int) -> None:
        import torch

        from .device import resolve_device
        from .pipeline import Reconstructor

        torch.set_num_threads(max(1, threads))
        self.reconstructor = Reconstructor(resolve_device(device))
        self.reconstructor.predictor(predictor)  # a broken install fails here, at start

    def info(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(),
                "device": str(self.reconstructor.device)}

    def run(self, task: Task, options: ReconstructOptions) -> Record:
        rec = reconstruct_task(self.reconstructor, task, options)
        rec["worker"] = f"{socket.gethostname()}:{os.getpid()}"
        return rec


def actor_plan(ray: Any, settings: RaySettings) -> tuple[dict, str, int]:
    """The resources each actor asks for, its torch device, and how many actors to start."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 0))
    if settings.device != "cpu" and gpus:
        return ({"num_gpus": 1, "num_cpus": settings.cpus_per_worker}, "cuda",
                settings.workers or gpus)
    if settings.device == "cuda":
        raise BackendError("bad_options", "--device cuda, but the Ray cluster has no GPU.")
    return ({"num_cpus": settings.cpus_per_worker}, "cpu",
            settings.workers or max(1, cpus // settings.cpus_per_worker))


def connect(ray: Any, settings: RaySettings) -> bool:
    """Join the cluster (or start one for 'local'); True when this call started the connection.

    An already initialised Ray (a test's ``ray.init``, a notebook) is used as it is. Workers
    import ``backend`` from this checkout's path, which must be the same on every node."""
    if ray.is_initialized():
        return False
    path = os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)
    common = {"log_to_driver": False, "runtime_env": {"env_vars": {"PYTHONPATH": path}}}
    _check_reachable(settings.address)
    try:
        if settings.address == "local":
            cpus = settings.workers * settings.cpus_per_worker if settings.workers else None
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, **common)
        else:
            ray.init(address=settings.address, **common)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise BackendError("ray_unreachable", f"Cannot reach the Ray cluster at "
                           f"{settings.address!r}: {exc}") from exc
    return True


def _check_reachable(address: str) -> None:
    """HOST:PORT must take a connection: ray.init would otherwise retry for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "local", ray://...: Ray resolves and reports these itself
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise BackendError("ray_unreachable", f"No Ray head answers at {address} "
                           f"({exc.strerror or exc}); start one with `ray start --head` "
                           "(docs/BATCH.md).") from exc


@contextmanager
def ray_runner(settings: RaySettings) -> Iterator[Runner]:
    """A batch runner on the cluster; disconnects afterwards if it connected."""
    ray = import_ray()
    started = connect(ray, settings)
    try:
        yield lambda tasks, options, emit: RayBatch(ray, settings).run(tasks, options, emit)
    finally:
        if started:
            ray.shutdown()


@dataclass(eq=False)
class Actor:
    """One actor as the dispatcher sees it: its handle, whether it is up, what it is running."""

    handle: Any
    ready: Any  # the ObjectRef of info(): resolved once the actor has loaded its model
    info: dict | None = None
    inflight: dict[Any, Task] = field(default_factory=dict)  # oldest first: the running one


class RayBatch:
    """Feed tasks to actors, gather records as they arrive, replace actors that die."""

    def __init__(self, ray: Any, settings: RaySettings,
                 on_result: Callable[[RayBatch, Actor, Record], None] | None = None,
                 worker_class: type[ReconstructWorker] = ReconstructWorker) -> None:
        self.ray = ray
        self.settings = settings
        self.on_result = on_result  # a hook for tests (kill a worker mid-run)
        self.worker_class = worker_class  # the actors' body; tests pass one that dies on cue
        self.actors: list[Actor] = []
        self.owner: dict[Any, Actor] = {}
        self.attempts: Counter[str] = Counter()
        self.queue: deque[Task] = deque()
        self.spawned = 0
        self.max_spawns = 0
        self.last_error = ""
        self.last_progress = time.monotonic()

    def run(self, tasks: list[Task], options: ReconstructOptions, emit: Emit) -> None:
        self.queue, self.options, self.emit = deque(tasks), options, emit
        resources, self.device, count = actor_plan(self.ray, self.settings)
        self.actor_class = self.ray.remote(max_restarts=0, **resources)(self.worker_class)
        self.threads = int(resources["num_cpus"])
        self.max_spawns = count * (1 + self.settings.max_attempts)
        for _ in range(count):
            self._spawn()
        try:
            while self.queue or any(a.inflight for a in self.actors):
                self._dispatch()
                self._wait_one()
        finally:
            for actor in self.actors:
                self._kill(actor)
            self.actors.clear()

    def _spawn(self) -> None:
        handle = self.actor_class.remote(self.device, self.options.predictor, self.threads)
        actor = Actor(handle, handle.info.remote())
        self.owner[actor.ready] = actor
        self.actors.append(actor)
        self.spawned += 1

    def _dispatch(self) -> None:
        """Top every ready actor up to DEPTH images, one round per depth to spread them."""
        for depth in range(1, DEPTH + 1):
            for actor in self.actors:
                if actor.info is not None and self.queue and len(actor.inflight) < depth:
                    task = self.queue.popleft()
                    ref = actor.handle.run.remote(task, self.options)
                    actor.inflight[ref] = task
                    self.owner[ref] = actor

    def _wait_one(self) -> None:
        refs = list(self.owner)
        if not refs:
            self._give_up(f"no Ray worker is left to run it ({self.last_error or 'none started'})")
            return
        done, _ = self.ray.wait(refs, num_returns=1, timeout=WAIT_S)
        if not done:
            stalled = time.monotonic() - self.last_progress > self.settings.start_timeout_s
            if stalled and not any(a.info for a in self.actors):
                self._give_up(f"no Ray worker started in {self.settings.start_timeout_s:.0f} s "
                              f"(the cluster has "
                              f"{self.ray.available_resources()} free)")
            return
        ref = done[0]
        actor = self.owner.pop(ref)
        if ref == actor.ready:
            self._on_ready(actor, ref)
        else:
            self._on_result(actor, ref)

    def _on_ready(self, actor: Actor, ref: Any) -> None:
        try:
            actor.info = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:  # it could not start: imports, weights, ...
            self._lost(actor, exc)
            return
        self.last_progress = time.monotonic()

    def _on_result(self, actor: Actor, ref: Any) -> None:
        task = actor.inflight[ref]
        try:
            rec = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:  # the worker died under it
            self._lost(actor, exc)
            return
        except self.ray.exceptions.RayError as exc:  # the call itself failed, not the image
            rec = record(task, "failed", f"the Ray task failed: {_short(exc)}")
        del actor.inflight[ref]
        rec["attempts"] = self.attempts[task.image] + 1
        self.last_progress = time.monotonic()
        self.emit(rec)
        if self.on_result:
            self.on_result(self, actor, rec)

    def _lost(self, actor: Actor, exc: BaseException) -> None:
        """An actor died: its running image loses a try, the ones queued on it go back as they
        were, and a new actor takes its place while the budget lasts."""
        self.last_error = _short(exc)
        self._kill(actor)
        self.actors.remove(actor)
        self.owner.pop(actor.ready, None)
        self._salvage(actor)
        queued = list(actor.inflight.values())
        for ref in actor.inflight:
            self.owner.pop(ref, None)
        if queued:
            running, *behind = queued
            self.queue.extendleft(reversed(behind))
            self._charge(running)
        if self.spawned < self.max_spawns:
            self._spawn()

    def _charge(self, running: Task) -> None:
        """The image a dead actor was running loses a try, unless its bundle was written whole
        (Ray can lose a reply sent just before the process died)."""
        tries = self.attempts[running.image] + 1
        if is_finished(Path(running.out_dir)):
            self.emit({**record(running, "done", "its bundle was written before its Ray worker "
                                "died"), "attempts": tries})
            return
        self.attempts[running.image] = tries
        if tries >= self.settings.max_attempts:
            self.emit({**record(running, "failed", f"its Ray worker died {tries} times while "
                                f"reconstructing it (last: {self.last_error})"),
                       "attempts": tries})
        else:
            self.queue.appendleft(running)

    def _salvage(self, actor: Actor) -> None:
        """Results the dead actor finished before it died are kept, not redone."""
        refs = list(actor.inflight)
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0) if refs else ([], [])
        for ref in ready:
            try:
                rec = self.ray.get(ref)
            except self.ray.exceptions.RayError:
                continue
            task = actor.inflight.pop(ref)
            self.owner.pop(ref, None)
            self.emit({**rec, "attempts": self.attempts[task.image] + 1})

    def _give_up(self, why: str) -> None:
        while self.queue:
            task = self.queue.popleft()
            self.emit({**record(task, "failed", why), "attempts": self.attempts[task.image]})

    def _kill(self, actor: Actor) -> None:
        with suppress(Exception):  # already gone: nothing to stop
            self.ray.kill(actor.handle)


def _short(exc: BaseException) -> str:
    """An exception's first line: Ray's carry the whole remote traceback after it."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]
