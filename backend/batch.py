"""`python -m backend batch`: every image of a folder tree into a mirrored tree of bundles.

A catalogue is thousands of images, so a batch must outlive its failures: a bad image is recorded
and the run goes on, an interrupted run is resumed by skipping the bundles already finished, and
every image's outcome is appended to ``OUT/batch_summary.jsonl`` the moment it is known. This
module holds what the local run and the Ray run (``backend/ray_batch.py``) share: finding the
images, the resume rule, one image into its bundle, the summary and the progress bar.
A folder holding ``views.json`` is one object photographed several times (issue 35): its photos
make one bundle, OUT/<the folder relative to INPUT_DIR>/. Reference: docs/BATCH.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from . import bundle
from .contract import MAX_NAME_LENGTH, MAX_UPLOAD_MB, MAX_VIEWS
from .errors import BackendError, failure_message
from .options import ReconstructOptions

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"})
SUMMARY_NAME = "batch_summary.jsonl"
VIEWS_FILE = "views.json"  # marks a folder as one object's photos (docs/BATCH.md)
# What a finished bundle's result.json holds at least (docs/API.md); one without them is redone.
RESULT_KEYS = ("version", "model", "model_kind", "timings_s", "camera", "slices", "mesh")

Record = dict[str, Any]
Emit = Callable[[Record], None]


@dataclass(frozen=True)
class Task:
    """One image (or one object's photos) and its bundle folder; plain values so that it
    travels to Ray workers as is."""

    image: str  # relative to INPUT_DIR, with "/" (the summary's key); an object's folder ends "/"
    source: str  # absolute path of the image (of the object's folder)
    bundle: str  # the bundle folder relative to OUT, with "/"
    out_dir: str  # absolute path of the bundle folder
    views: tuple[str, ...] = ()  # an object's photos, absolute paths, the reference first
    azimuths: tuple[float, ...] | None = None  # from views.json, when given
    elevations: tuple[float, ...] | None = None


@dataclass
class Plan:
    """What a run does: the images to reconstruct, the finished ones and the refused ones."""

    todo: list[Task] = field(default_factory=list)
    skipped: list[Task] = field(default_factory=list)
    refused: list[tuple[Task, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.todo) + len(self.skipped) + len(self.refused)


def find_images(root: Path, exclude: Path | None = None) -> list[Path]:
    """The images under root, sorted; hidden files and folders, and the exclude folder, left out.

    Hidden folders include a bundle writer's staging folders; exclude is OUT when it lies inside
    the input tree, so that a rerun does not take the bundles' own PNGs for input."""
    return _walk(root, exclude)[0]


def find_objects(root: Path, exclude: Path | None = None) -> list[Path]:
    """The folders under root (root itself included) that hold a views.json, sorted."""
    return _walk(root, exclude)[1]


def _walk(root: Path, exclude: Path | None) -> tuple[list[Path], list[Path]]:
    """Single images, and object folders (a views.json; nothing below one is a single image)."""
    skip = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    objects: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if VIEWS_FILE in files:
            objects.append(here)
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (skip is None or (here / d).resolve() != skip))
        found.extend(here / name for name in sorted(files)
                     if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES)
    return found, sorted(objects)


def object_task(input_dir: Path, output: Path, folder: Path) -> Task:
    """One object's task; its views.json is read later (``read_views``), so a bad one is that
    object's failed record, not the run's end."""
    rel = folder.relative_to(input_dir)
    return Task(rel.as_posix() + "/", str(folder), rel.as_posix(), str(output / rel))


def read_views(task: Task) -> Task:
    """The task with its photos and poses from views.json, or a BackendError saying what is
    wrong with the file: ``{"views": [names...], "azimuths": [...], "elevations": [...]}``,
    every key optional ("views" defaults to the folder's images in name order)."""
    from .multiview.request import check_poses

    folder = Path(task.source)
    where = f"{task.image}{VIEWS_FILE}"
    try:
        spec = json.loads((folder / VIEWS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackendError("bad_options", f"{where} is not readable JSON ({exc}).") from None
    if not isinstance(spec, dict) or set(spec) - {"views", "azimuths", "elevations"}:
        raise BackendError("bad_options", f"{where} must be an object with the keys views, "
                           "azimuths and elevations (each optional).")
    names = spec.get("views")
    if names is None:
        names = [p.name for p in sorted(folder.iterdir()) if p.is_file()
                 and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES]
    if (not isinstance(names, list) or not all(isinstance(n, str) for n in names)
            or any("/" in n or "\\" in n or n in ("", ".", "..") for n in names)):
        raise BackendError("bad_options", f"{where}: views must list the photos' file names "
                           "in this folder.")
    if not 2 <= len(names) <= MAX_VIEWS:
        raise BackendError("bad_options", f"{where}: an object takes 2 to {MAX_VIEWS} photos "
                           f"(found {len(names)}).")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise BackendError("bad_options", f"{where} lists {missing[0]}, which is not in the "
                           "folder.")
    poses = {}
    for key in ("azimuths", "elevations"):
        values = spec.get(key)
        if values is not None and (not isinstance(values, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values)):
            raise BackendError("bad_options", f"{where}: {key} must be a list of numbers.")
        poses[key] = None if values is None else tuple(float(v) for v in values)
    try:
        check_poses(len(names), poses["azimuths"], poses["elevations"])
    except BackendError as exc:
        raise BackendError(exc.code, f"{where}: {exc.message}") from None
    return replace(task, views=tuple(str(folder / n) for n in names), azimuths=poses["azimuths"],
                   elevations=poses["elevations"])


def make_plan(input_dir: Path, output: Path) -> Plan:
    """Each image's bundle folder OUT/<relative folder>/<stem>/, the resume rule and the clashes."""
    input_dir, output = input_dir.resolve(), output.resolve()
    plan = Plan()
    images, objects = _walk(input_dir, output)
    folders = {p.parent.relative_to(input_dir) for p in images}
    image_folders = {a.as_posix() for f in folders for a in (f, *f.parents) if a != Path(".")}
    owner: dict[str, str] = {}
    for path in images:
        rel = path.relative_to(input_dir)
        task = Task(rel.as_posix(), str(path), (rel.parent / path.stem).as_posix(),
                    str(output / rel.parent / path.stem))
        _sort(plan, task, _clash(task, path, owner, image_folders))
    for folder in objects:
        task = object_task(input_dir, output, folder)
        problem = None
        if folder == input_dir:
            problem = (f"{VIEWS_FILE} in INPUT_DIR itself would make OUT the bundle; put the "
                       "object's photos in a folder of their own.")
        elif task.bundle in owner:
            problem = (f"{task.image} and {owner[task.bundle]} would share the bundle folder "
                       f"{task.bundle}/; rename one of them.")
        owner.setdefault(task.bundle, task.image)
        _sort(plan, task, problem)
    return plan


def _sort(plan: Plan, task: Task, problem: str | None) -> None:
    if problem:
        plan.refused.append((task, problem))
    elif is_finished(Path(task.out_dir)):
        plan.skipped.append(task)
    else:
        plan.todo.append(task)


def _clash(task: Task, path: Path, owner: dict[str, str], image_folders: set[str]) -> str | None:
    """Why this image cannot have its own bundle folder, or None (and the folder is taken)."""
    try:
        bundle.bundle_path(path.parent, path.stem)
    except BackendError as exc:
        return exc.message
    if task.bundle in owner:
        return (f"{task.image} and {owner[task.bundle]} would share the bundle folder "
                f"{task.bundle}/; rename one of them.")
    if task.bundle in image_folders:
        return (f"the bundle folder {task.bundle}/ would also hold the bundles of the images in "
                f"the input folder {task.bundle}/; rename the image.")
    owner[task.bundle] = task.image
    return None


def is_finished(out_dir: Path) -> bool:
    """The resume rule: our marker, the bundle's files only, a mesh, and a complete result.json."""
    if not bundle.is_bundle(out_dir) or not (out_dir / "mesh.glb").is_file():
        return False
    try:
        result = json.loads((out_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(result, dict) and all(key in result for key in RESULT_KEYS)


def record(task: Task, status: str, message: str | None = None, **extra: Any) -> Record:
    """One line of the summary: the image, its bundle, done / skipped / failed and why."""
    return {"image": task.image, "bundle": task.bundle, "status": status, "message": message,
            **extra}


def reconstruct_task(reconstructor: Any, task: Task, options: ReconstructOptions) -> Record:
    """One image into its bundle; every failure becomes a record, never an exception.

    ``reconstructor`` is a ``backend.pipeline.Reconstructor`` (typed loosely so that importing
    this module does not import torch)."""
    start = time.perf_counter()
    try:
        out_dir = Path(task.out_dir)
        bundle.check_replaceable(out_dir)  # before the work, not only when the bundle is written
        named = replace(options, name=Path(task.source).name[:MAX_NAME_LENGTH])
        result = reconstructor.run(_task_input(task), named, out_dir)
    except Exception as exc:  # one bad image must not stop the batch
        return record(task, "failed", failure_message(exc),
                      seconds=round(time.perf_counter() - start, 3))
    return record(task, "done", seconds=round(time.perf_counter() - start, 3),
                  faces=result["mesh"]["faces"], warnings=result["warnings"])


def _task_input(task: Task) -> Any:
    """The image's bytes, or the object's photos as a ViewRequest."""
    from .intake import read_image_file

    limit = MAX_UPLOAD_MB * 1024 * 1024
    if not task.image.endswith("/"):
        return read_image_file(Path(task.source), limit)
    from .multiview.request import ViewRequest

    task = read_views(task)
    images = []
    for path in task.views:
        try:
            images.append(read_image_file(Path(path), limit))
        except BackendError as exc:
            raise BackendError(exc.code, f"{Path(path).name}: {exc.message}") from None
    return ViewRequest(tuple(images), tuple(Path(p).name[:MAX_NAME_LENGTH] for p in task.views),
                       task.azimuths, task.elevations)


def run_local(tasks: list[Task], options: ReconstructOptions, device: str, emit: Emit) -> None:
    """The batch in this process, one image after another, on one loaded model."""
    from .device import resolve_device
    from .pipeline import Reconstructor

    reconstructor = Reconstructor(resolve_device(device))
    for task in tasks:
        emit({**reconstruct_task(reconstructor, task, options), "attempts": 1})


class Summary:
    """OUT/batch_summary.jsonl, one JSON record per image, flushed as each outcome arrives.

    Rewritten by every run, so that it holds exactly one record per image of the latest run (a
    resumed run lists the finished images as skipped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts: Counter[str] = Counter()
        self._fh: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def add(self, rec: Record) -> None:
        self._fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.counts[rec["status"]] += 1

    def close(self) -> None:
        self._fh.close()


class Progress:
    """A tqdm bar (rate and time left) on a terminal; in a log, one line per image instead."""

    def __init__(self, total: int, stream: IO[str] | None = None) -> None:
        from tqdm import tqdm

        self.stream = stream or sys.stderr
        self.total = total
        self.count = 0
        self.failed = 0
        self.start = time.perf_counter()
        self.bar = tqdm(total=total, desc="batch", unit="img", file=self.stream, smoothing=0.05,
                        disable=not self.stream.isatty() or total == 0)

    def update(self, rec: Record) -> None:
        self.count += 1
        self.failed += rec["status"] == "failed"
        per_hour = self.count / max(time.perf_counter() - self.start, 1e-9) * 3600
        if self.bar.disable:
            print(f"[{self.count}/{self.total}] {rec['image']}: {rec['status']}"
                  + (f" ({rec['message']})" if rec["message"] else "")
                  + f" | {per_hour:.0f} img/h, {self.time_left(per_hour)} left",
                  file=self.stream, flush=True)
            return
        if rec["status"] == "failed":
            self.bar.write(f"failed: {rec['image']}: {rec['message']}", file=self.stream)
        self.bar.set_postfix_str(f"{per_hour:.0f} img/h, {self.failed} failed", refresh=False)
        self.bar.update(1)

    def time_left(self, per_hour: float) -> str:
        from tqdm import tqdm

        return tqdm.format_interval((self.total - self.count) / per_hour * 3600)

    def close(self) -> None:
        self.bar.close()


Runner = Callable[[list[Task], ReconstructOptions, Emit], None]


def run_batch(input_dir: Path, output: Path, options: ReconstructOptions, runner: Runner,
              stream: IO[str] | None = None) -> int:
    """Plan, skip the finished bundles, run the rest through runner; 1 if any image failed."""
    stream = stream or sys.stderr
    output.mkdir(parents=True, exist_ok=True)
    plan = make_plan(input_dir, output)
    summary = Summary(output / SUMMARY_NAME)
    try:
        for task in plan.skipped:
            summary.add(record(task, "skipped"))
        for task, problem in plan.refused:
            summary.add(record(task, "failed", problem))
        print(f"{plan.total} images in {input_dir}: {len(plan.skipped)} skipped (finished "
              f"bundles), {len(plan.refused)} refused, {len(plan.todo)} to reconstruct",
              file=stream, flush=True)
        progress = Progress(len(plan.todo), stream)

        def emit(rec: Record) -> None:
            summary.add(rec)
            progress.update(rec)

        try:
            if plan.todo:
                runner(plan.todo, options, emit)
        finally:
            progress.close()
    finally:
        summary.close()
    counts = summary.counts
    seconds = time.perf_counter() - progress.start  # model loading / worker start included
    rate = f", {progress.count / seconds * 3600:.0f} img/h" if progress.count else ""
    print(f"{counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed in "
          f"{seconds:.1f} s{rate}; summary: {summary.path}", file=stream, flush=True)
    return 1 if counts["failed"] else 0


def check_folders(input_dir: Path, output: Path) -> None:
    """INPUT_DIR must be a folder, and OUT another one (bundles mixed into the input would be
    read back as images)."""
    if not input_dir.is_dir():
        raise BackendError("bad_options", f"{input_dir} is not a folder; batch reads a folder "
                           "tree (give `reconstruct` single images).")
    if output.resolve() == input_dir.resolve():
        raise BackendError("bad_options", "-o must not be the input folder itself; name another "
                           "folder (OUT/<relative folder>/<image stem>/ per image).")
