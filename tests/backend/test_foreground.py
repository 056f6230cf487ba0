"""backend.foreground: the image's alpha when it means something, else rembg u2netp (offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from backend_test_support import APPLE, disc_cutout, disc_mask, disc_on_background

from backend.errors import BackendError
from backend.foreground import (
    CPU_PROVIDER,
    GPU_PROVIDER,
    alpha_is_meaningful,
    extract_foreground,
    mask_providers,
    onnx_providers,
)
from backend.u2net_model import model_present, models_dir

REPO = Path(__file__).resolve().parents[2]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_offline_model_is_installed():
    """`python -m backend setup-models` put u2netp where rembg looks, with rembg's checksum."""
    assert model_present()


def test_a_gpu_job_masks_on_the_gpu_where_onnx_runtime_offers_it():
    installed = ["TensorrtExecutionProvider", GPU_PROVIDER, CPU_PROVIDER]
    assert onnx_providers("cuda", installed) == [GPU_PROVIDER, CPU_PROVIDER]  # never TensorRT
    assert onnx_providers("cpu", installed) == [CPU_PROVIDER]  # a CPU job leaves the GPU alone
    assert onnx_providers("cuda", [CPU_PROVIDER]) == [CPU_PROVIDER]  # plain onnxruntime


def test_the_real_sessions_run_on_the_providers_chosen():
    import onnxruntime as ort

    assert mask_providers("cpu") == [CPU_PROVIDER]
    assert mask_providers("cuda") == onnx_providers("cuda", ort.get_available_providers())
    rgba, mask = disc_on_background(128)
    on_cpu, _ = extract_foreground(rgba, has_alpha=False, device="cpu")
    on_gpu_job, _ = extract_foreground(rgba, has_alpha=False, device="cuda")
    if mask_providers("cuda") == [CPU_PROVIDER]:  # no onnxruntime-gpu here: the same masks
        np.testing.assert_array_equal(on_cpu, on_gpu_job)
    assert iou(on_gpu_job[..., 3] > 127, mask) > 0.9


def test_meaningful_alpha_is_used_as_is():
    rgba = disc_cutout(128)
    out, method = extract_foreground(rgba, has_alpha=True)
    assert method == "alpha"
    np.testing.assert_array_equal(out, rgba)


def test_alpha_without_a_cutout_is_not_meaningful():
    opaque = disc_cutout(64)
    opaque[..., 3] = 255
    clear = np.zeros((64, 64, 4), dtype=np.uint8)
    assert not alpha_is_meaningful(opaque)
    assert not alpha_is_meaningful(clear)
    assert alpha_is_meaningful(disc_cutout(64))


def test_alpha_specks_are_dropped():
    rgba = disc_cutout(128)
    rgba[2:4, 2:4] = (0, 0, 0, 255)  # a 4-pixel speck far from the object
    out, _ = extract_foreground(rgba, has_alpha=True)
    assert (out[2:4, 2:4, 3] == 0).all()
    assert (out[disc_mask(128), 3] == 255).all()


@pytest.mark.parametrize(
    ("fg", "bg"),
    [((200, 40, 40), (235, 235, 235)), ((30, 90, 200), (255, 255, 255)),
     ((240, 200, 30), (40, 40, 40))],
)
def test_opaque_image_goes_through_rembg(fg, bg):
    rgba, truth = disc_on_background(256, 0.3, fg, bg)
    out, method = extract_foreground(rgba, has_alpha=False)
    assert method == "rembg"
    assert iou(out[..., 3] > 127, truth) > 0.8
    np.testing.assert_array_equal(out[..., :3], rgba[..., :3])  # colours untouched


def test_remove_mode_ignores_a_meaningful_alpha():
    """background=remove runs rembg even when alpha exists (it must then find the object)."""
    rgba, truth = disc_on_background(256, 0.3)
    rgba[..., 3] = np.where(disc_mask(256, 0.45), 255, 0)  # an alpha larger than the disc
    out, method = extract_foreground(rgba, has_alpha=True, mode="remove")
    assert method == "rembg"
    assert iou(out[..., 3] > 127, truth) > 0.8


@pytest.mark.parametrize("value", [255, 128])
def test_no_object_is_an_error(value):
    plain = np.full((200, 200, 4), value, dtype=np.uint8)
    with pytest.raises(BackendError) as info:
        extract_foreground(plain, has_alpha=False)
    assert info.value.code == "no_object" and info.value.http_status == 422
    assert "No object" in info.value.message


def test_fully_transparent_image_has_no_object():
    clear = np.zeros((100, 100, 4), dtype=np.uint8)
    clear[..., :3] = 255  # white, transparent: not a meaningful alpha, rembg finds nothing
    with pytest.raises(BackendError) as info:
        extract_foreground(clear, has_alpha=True)
    assert info.value.code == "no_object"


def test_alpha_mode_on_an_opaque_image_is_a_clear_error():
    rgba, _ = disc_on_background(128)
    with pytest.raises(BackendError) as info:
        extract_foreground(rgba, has_alpha=False, mode="alpha")
    assert info.value.code == "bad_image" and info.value.http_status == 400
    assert "transparen" in info.value.message


def test_unknown_mode():
    with pytest.raises(BackendError) as info:
        extract_foreground(disc_cutout(64), has_alpha=True, mode="magic")
    assert info.value.code == "bad_options"


# Ours first, then stock rembg imported whole in the same process (the two must live side by
# side), in a process of their own: NUMBA_DISABLE_JIT leaves pymatting's numba functions (alpha
# matting, which these masks never run) uncompiled, where compiling them at import is a minute
# of CI. Stock rembg's own code computes its masks either way.
BOTH_MASKS = """
import sys, numpy as np
from PIL import Image
from backend.foreground import _remove_background
inputs = np.load(sys.argv[1])
ours = {k: _remove_background(inputs[k]) for k in ("photo", "synthetic")}
import rembg
stock = rembg.new_session("u2netp", providers=["CPUExecutionProvider"])
theirs = {k: np.asarray(stock.predict(Image.fromarray(np.ascontiguousarray(inputs[k][..., :3])))[0]
                        .convert("L"), dtype=np.uint8) for k in ours}
assert callable(rembg.remove)
np.savez(sys.argv[2], **{f"ours_{k}": v for k, v in ours.items()},
         **{f"theirs_{k}": v for k, v in theirs.items()})
"""


def test_mask_is_stock_rembg_byte_for_byte(tmp_path):
    """The u2netp session loaded without rembg/__init__ gives rembg.new_session's exact mask."""
    from backend.intake import load_image

    images = {"photo": load_image(APPLE.read_bytes()).rgba,
              "synthetic": disc_on_background(256, 0.3)[0]}
    np.savez(tmp_path / "inputs.npz", **images)
    env = {**os.environ, "U2NET_HOME": str(models_dir()), "NUMBA_DISABLE_JIT": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", BOTH_MASKS, str(tmp_path / "inputs.npz"),
                          str(tmp_path / "masks.npz")], env=env, capture_output=True, text=True,
                         timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    with np.load(tmp_path / "masks.npz") as masks:
        for name in images:
            assert masks[f"ours_{name}"].shape == images[name].shape[:2]
            assert masks[f"ours_{name}"].tobytes() == masks[f"theirs_{name}"].tobytes(), name
