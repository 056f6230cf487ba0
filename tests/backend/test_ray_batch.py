"""`python -m backend batch --ray` on real local Ray clusters (docs/BATCH.md).

- a head (`ray start --head` on loopback, no CPUs of its own) and a worker node joining it, both
  real processes; the batch runs as a subprocess against the head's address;
- an in-process cluster, `ray.init(num_cpus=2)`: a faulty image, the exit code and the resumed
  run; then a worker killed mid-run, whose image is retried on another actor; then an image that
  ends its worker's process every time (fails after --max-attempts, the rest go on) and the
  results a dying worker finished before its death (kept, not redone).

Every test ends its Ray processes and checks that none is left. Marked slow (`make test` runs it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from backend_test_support import REPO_ROOT, disc_cutout, encode
from PIL import Image

from backend.batch import SUMMARY_NAME, run_batch
from backend.cli import main
from backend.options import ReconstructOptions
from backend.ray_batch import Actor, RayBatch, RaySettings, ReconstructWorker

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))
FAST = ["--predictor", "baseline", "--resolution", "32", "--background", "alpha"]
POISON = "poison.png"


@pytest.fixture(scope="module")
def ray_env() -> dict[str, str]:
    """The environment of the `ray start` nodes and the batch run against them: token auth
    with a token of this test run only (nothing written to ~/.ray), no telemetry."""
    return {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_USAGE_STATS_ENABLED": "0"}


def make_images(root: Path, count: int, *, size: int = 64, faulty: bool = True) -> list[str]:
    """count good cutouts spread over two folder levels, plus a file that is not an image."""
    names = []
    for i in range(count):
        rel = ("", "shelf/", "shelf/top/")[i % 3] + f"item{i}.png"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(Image.fromarray(disc_cutout(size, 0.2 + 0.02 * i), "RGBA"),
                                "PNG"))
        names.append(rel)
    if faulty:
        (root / "shelf" / "faulty.png").write_bytes(b"\x89PNG but not really")
    return names


def records(out: Path) -> dict[str, dict]:
    lines = (out / SUMMARY_NAME).read_text().splitlines()
    return {r["image"]: r for r in map(json.loads, lines)}


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[4])  # field 6, after the command name


def pids_in_sessions(sessions: set[int]) -> set[int]:
    pids = {int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()}
    return {pid for pid in pids if session_of(pid) in sessions}


def wait_gone(pids: set[int], timeout: float = 30.0) -> set[int]:
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists()
                 and "zombie" not in _state(pid)}
        time.sleep(0.2)
    return alive


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"


class Node:
    """`ray start --block` in a session of its own, so that the node and every process it starts
    (raylet, workers) can be found and, if SIGTERM is not enough, ended by its process group."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as fh:
            self.proc = subprocess.Popen([RAY, "start", "--block", *args], env=env, stdout=fh,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def wait_listening(self, port: int, timeout: float = 90.0) -> None:
        """Until the head's GCS takes connections; its log when it died instead."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {self.log.read_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"the head did not listen in {timeout} s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # ray start drains and stops its processes
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(40)
        left = pids_in_sessions({self.proc.pid})
        if left:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def test_a_head_and_a_worker_node_started_with_ray_start(tmp_path, ray_env):
    src, out = tmp_path / "in", tmp_path / "out"
    good = make_images(src, 4)
    temp = Path(tempfile.mkdtemp(prefix="s3r-", dir="/tmp"))  # short: Ray's socket paths
    port, head_agent, worker_agent = free_ports(3)
    loopback = ["--node-ip-address", "127.0.0.1"]
    # The head has no CPU to offer, so every actor must run on the worker node.
    head = Node(["--head", "--port", str(port), *loopback, "--num-cpus", "0",
                 "--dashboard-agent-listen-port", str(head_agent), "--include-dashboard",
                 "false", "--temp-dir", str(temp)], ray_env, tmp_path / "head.log")
    nodes = [head]
    try:
        head.wait_listening(port)
        nodes.insert(0, Node(["--address", f"127.0.0.1:{port}", *loopback, "--num-cpus", "2",
                              "--dashboard-agent-listen-port", str(worker_agent)], ray_env,
                             tmp_path / "worker.log"))
        run = subprocess.run(
            [sys.executable, "-m", "backend", "batch", str(src), "-o", str(out),
             "--ray", f"127.0.0.1:{port}", "--workers", "2", *FAST],
            cwd=REPO_ROOT, env=ray_env, capture_output=True, text=True, timeout=200)
    finally:
        sessions = {node.proc.pid for node in nodes}
        seen = pids_in_sessions(sessions)
        for node in nodes:  # the worker node first, then the head
            node.stop()
        shutil.rmtree(temp, ignore_errors=True)
    assert run.returncode == 1, run.stderr[-3000:]
    result = records(out)
    assert all(result[name]["status"] == "done" for name in good), run.stderr[-3000:]
    assert (out / "shelf" / "top" / "item2" / "mesh.glb").is_file()
    assert result["shelf/faulty.png"]["status"] == "failed"
    assert "4 done, 0 skipped, 1 failed in " in run.stderr
    assert not wait_gone(seen) and not pids_in_sessions(sessions), "Ray processes left over"


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[object]:
    """An in-process cluster with 2 CPUs: one actor per CPU.

    Without token auth: this process may have read Ray's auth mode when it imported ray (unset:
    off), and the cluster's processes must agree with it; nothing but this process joins."""
    temp = Path(tempfile.mkdtemp(prefix="s3r-", dir="/tmp"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "disabled")
        mp.setenv("RAY_USAGE_STATS_ENABLED", "0")
        mp.delenv("RAY_ADDRESS", raising=False)  # a cluster of its own, not one set outside
        yield from _cluster(temp)


def _cluster(temp: Path) -> Iterator[object]:
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=str(temp),
                 runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}})
        yield ray
    finally:
        started = ray_processes(str(temp))  # gcs, raylet and the workers they started
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    assert len(started) >= 2 and not wait_gone(started), "Ray processes left over"


def ray_processes(temp_dir: str) -> set[int]:
    """The processes whose command line names the cluster's temp dir (gcs, raylet, agents),
    and their descendants (the workers, named ray::IDLE, ray::ReconstructWorker, ...)."""
    parents: dict[int, int] = {}
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                if temp_dir.encode() in (proc / "cmdline").read_bytes():
                    found.add(int(proc.name))
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1]
                                              .split()[1])
        except OSError:
            continue
    while True:
        more = {pid for pid, ppid in parents.items() if ppid in found} - found
        if not more:
            return found
        found |= more


def test_in_process_cluster_a_faulty_image_then_a_resumed_run(tmp_path, local_cluster, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    good = make_images(src, 5)
    assert main(["batch", str(src), "-o", str(out), "--ray", "auto", *FAST]) == 1
    first = records(out)
    assert all(first[name]["status"] == "done" for name in good)
    assert first["shelf/faulty.png"]["status"] == "failed"
    assert "not an image" in first["shelf/faulty.png"]["message"]
    assert all(r["attempts"] == 1 for r in first.values())
    assert len({first[name]["worker"] for name in good}) >= 1
    assert "5 done, 0 skipped, 1 failed in " in capsys.readouterr().err

    assert main(["batch", str(src), "-o", str(out), "--ray", "auto", *FAST]) == 1
    second = records(out)
    assert all(second[name]["status"] == "skipped" for name in good)
    assert second["shelf/faulty.png"]["status"] == "failed"
    assert "5 skipped (finished bundles)" in capsys.readouterr().err

    (src / "shelf" / "faulty.png").unlink()
    assert main(["batch", str(src), "-o", str(out), "--ray", "auto", *FAST]) == 0


def test_a_worker_killed_mid_run_loses_no_image(tmp_path, local_cluster):
    src, out = tmp_path / "in", tmp_path / "out"
    good = make_images(src, 6, faulty=False)
    killed: dict[str, object] = {}

    def kill_a_busy_worker(run: RayBatch, actor: Actor, rec: dict) -> None:
        # Right after a result the actor is already on the image queued behind it: kill it.
        if not killed and actor.inflight and actor.info:
            killed["pid"] = actor.info["pid"]
            killed["image"] = next(iter(actor.inflight.values())).image
            os.kill(actor.info["pid"], signal.SIGKILL)

    batch = RayBatch(ray, RaySettings(address="auto", workers=2), on_result=kill_a_busy_worker)
    # 128^3 keeps each image long enough (about a second here) for the kill to land mid-image.
    options = ReconstructOptions(resolution=128, predictor="baseline", background="alpha")
    assert run_batch(src, out, options, batch.run) == 0
    result = records(out)
    assert killed, "no worker was killed"
    assert all(result[name]["status"] == "done" for name in good)
    assert all((out / Path(name).with_suffix("") / "mesh.glb").is_file() for name in good)
    retried = result[str(killed["image"])]
    assert retried["attempts"] == 2, retried
    assert not retried["worker"].endswith(f":{killed['pid']}")
    assert batch.spawned == 3  # the two actors and the one that took the dead one's place
    assert not wait_gone({int(killed["pid"])})  # type: ignore[call-overload]


def dies_on_poison(deaths: Path) -> type[ReconstructWorker]:
    """The real worker, except that an image named poison.png ends its process with os._exit(1)
    (as a crash in native code would), after leaving a file named by its pid in deaths.

    It dies a second into the image, as a crash mid-reconstruction would: an exit at the very
    start of a task can take the reply of the image finished just before it down too (Ray sends
    replies from another thread), and the dispatcher then counts that image as the one the
    worker died on.

    Made in a function so that Ray's pickler ships the class by value: the actors cannot import
    this test module (ReconstructWorker, its base, they import from backend)."""

    class DiesOnPoison(ReconstructWorker):
        def run(self, task, options):
            if Path(task.source).name == POISON:
                time.sleep(1.0)
                (deaths / str(os.getpid())).write_text(task.image)
                os._exit(1)
            return ReconstructWorker.run(self, task, options)

    return DiesOnPoison


def run_with_poison(src: Path, out: Path, tmp_path: Path, settings: RaySettings
                    ) -> tuple[int, RayBatch, dict[int, float]]:
    """The batch over src with the poisoned worker: its exit code, the dispatcher, and the pid of
    every worker that poison.png killed with the time its death file was written."""
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    batch = RayBatch(ray, settings, worker_class=dies_on_poison(deaths))
    options = ReconstructOptions(resolution=32, predictor="baseline", background="alpha")
    code = run_batch(src, out, options, batch.run)
    return code, batch, {int(p.name): p.stat().st_mtime for p in deaths.iterdir()}


def test_an_image_that_kills_its_worker_fails_after_max_attempts_and_the_rest_go_on(
        tmp_path, local_cluster):
    src, out = tmp_path / "in", tmp_path / "out"
    good = make_images(src, 5, faulty=False)
    (src / POISON).write_bytes((src / good[0]).read_bytes())  # a good image, but for its name
    code, batch, dead = run_with_poison(src, out, tmp_path, RaySettings(workers=2,
                                                                        max_attempts=2))
    assert code == 1
    result = records(out)
    assert len(result) == len(good) + 1
    poison = result[POISON]
    assert poison["status"] == "failed" and poison["attempts"] == 2, poison
    assert "died 2 times" in poison["message"]
    assert not (out / "poison" / "mesh.glb").exists()
    # The rest are done, once each: the images queued on a dying actor went back without a try lost.
    assert all(result[name]["status"] == "done" and result[name]["attempts"] == 1
               for name in good), result
    assert all((out / Path(name).with_suffix("") / "mesh.glb").is_file() for name in good)
    assert len(dead) == 2, dead  # two real worker processes ended, each by the poison
    assert not wait_gone(set(dead))
    assert batch.spawned == 4 and batch.actors == []  # two replacements; all stopped at the end


def test_results_a_dying_worker_finished_are_kept_not_redone(tmp_path, local_cluster):
    src, out = tmp_path / "in", tmp_path / "out"
    (good,) = make_images(src, 1, faulty=False)  # item0.png, sorted before poison.png
    (src / POISON).write_bytes((src / good).read_bytes())
    # One actor: item0 runs while poison.png waits queued on it, then kills it.
    code, batch, dead = run_with_poison(src, out, tmp_path, RaySettings(workers=1,
                                                                        max_attempts=1))
    assert code == 1
    result = records(out)
    assert result[POISON]["status"] == "failed" and result[POISON]["attempts"] == 1
    ((pid, died_at),) = dead.items()
    kept = result[good]
    assert kept["status"] == "done" and kept["attempts"] == 1, kept
    # Done by the worker that died, before it died, and not run again by its replacement.
    assert kept["worker"].endswith(f":{pid}"), (kept, pid)
    bundle = out / Path(good).with_suffix("")
    assert (bundle / "result.json").stat().st_mtime <= died_at
    assert (bundle / "mesh.glb").is_file()
    assert batch.spawned == 2 and not wait_gone({pid})


def test_an_image_whose_bundle_was_written_before_its_worker_died_counts_as_done(
        tmp_path, local_cluster):
    """Ray can lose a reply sent just before a worker dies: the bundle on disk decides."""
    src, out = tmp_path / "in", tmp_path / "out"
    (good,) = make_images(src, 1, faulty=False)
    deaths = tmp_path / "deaths"
    deaths.mkdir()

    class DiesAfterWriting(ReconstructWorker):
        def run(self, task, options):
            ReconstructWorker.run(self, task, options)  # the bundle is written whole
            (deaths / str(os.getpid())).write_text(task.image)
            os._exit(1)  # and the reply never leaves

    batch = RayBatch(ray, RaySettings(workers=1, max_attempts=1), worker_class=DiesAfterWriting)
    options = ReconstructOptions(resolution=32, predictor="baseline", background="alpha")
    assert run_batch(src, out, options, batch.run) == 0
    kept = records(out)[good]
    assert kept["status"] == "done" and kept["attempts"] == 1, kept
    assert "before its Ray worker died" in kept["message"]
    assert len(list(deaths.iterdir())) == 1  # it did die, once, and was not run again
    assert (out / Path(good).with_suffix("") / "mesh.glb").is_file()
