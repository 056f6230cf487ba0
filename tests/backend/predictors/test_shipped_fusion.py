"""The shipped weights and several photos (issue 35): feature fusion on, one photo as before.

The shipped file is phase O's network plus a view fusion trained alone on it and a colour head
trained alone on both (``training.ship``'s extension phases). These tests read the real file:
its single-view SDF tensors must be phase O's bit for bit, one photo must never reach the
fusion, and several photos must.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from backend.meshing import extract_mesh
from backend.model import ModelConfig, Slice3DCompact, load_weights
from backend.multiview.poses import view_transform
from backend.predictors.fused_decoder import FusedDecoder
from backend.predictors.network import NetworkPredictor

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "backend" / "weights" / "slice3d_compact.safetensors"
CPU = torch.device("cpu")
# sha256 over the tensors neither of the fusion nor of the colour head (name, dtype, bytes;
# sorted by name) of phase O's file
# (sha256 c81880bd...), the weights shipped before the fusion: the one-photo network.
PHASE_O_TENSORS = "1ac45f31fe37383a69c35d134b23a3625e3178fbef743e22c95a8e0a82554a0b"

pytestmark = pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped weights here")


def single_view_digest(path: Path) -> str:
    h = hashlib.sha256()
    with safe_open(str(path), framework="pt") as f:  # type: ignore[attr-defined]
        for key in sorted(f.keys()):
            if key.startswith(("view_fusion.", "colour_head.")):  # phases V and T added these
                continue
            t = f.get_tensor(key)
            h.update(key.encode())
            h.update(str(t.dtype).encode())
            h.update(t.numpy().tobytes())
    return h.hexdigest()


def photo(seed: int) -> np.ndarray:
    """A framed model input: a textured box on white with its mask."""
    rng = np.random.default_rng(seed)
    im = np.ones((128, 128, 4), np.float32)
    top, left = 20 + 6 * seed, 30 + 4 * seed
    im[top:top + 80, left:left + 60, :3] = rng.uniform(0.2, 0.9, (80, 60, 3))
    im[..., 3] = 0.0
    im[top:top + 80, left:left + 60, 3] = 1.0
    return im


def turned(azimuth: float) -> np.ndarray:
    """Photo 0's view frame -> that of a camera moved round the object, level: the backend's
    one pose definition."""
    return view_transform(azimuth, 0.0, 0.0)


def without_fusion(pred: NetworkPredictor) -> NetworkPredictor:
    """The same predictor with the fusion taken out: phase O's network, the shipped settings."""
    cfg = ModelConfig.from_dict({**pred.model.config.to_dict(), "view_fusion": "none"})
    plain = Slice3DCompact(cfg).eval()
    state = {k: v for k, v in pred.model.state_dict().items()
             if not k.startswith("view_fusion.")}
    plain.load_state_dict(state)
    other = NetworkPredictor(CPU, SHIPPED)
    other.model = plain
    if other.decoder is not None:  # one photo's folded decoder, built from these tensors
        other.decoder = FusedDecoder(plain)
    return other


def test_the_shipped_single_view_network_is_phase_o_bit_for_bit():
    assert single_view_digest(SHIPPED) == PHASE_O_TENSORS


def test_the_shipped_weights_fuse_features_with_an_open_gate():
    pred = NetworkPredictor(CPU, SHIPPED)
    assert pred.fuses_features
    assert load_weights(SHIPPED).view_fusion.gate.abs().max() > 0.01  # trained, not the zero init


def test_one_photo_gives_the_mesh_phase_o_gave():
    pred = NetworkPredictor(CPU, SHIPPED)
    plain = without_fusion(pred)
    assert not plain.fuses_features
    image = photo(0)
    pts = torch.rand(3000, 3, generator=torch.Generator().manual_seed(0)) - 0.5
    one = pred.predict_views([image], [np.eye(4)])
    before = plain.predict(image)
    assert torch.equal(one.sdf(pts), before.sdf(pts))
    mesh = extract_mesh(one.sdf, resolution=40, device=CPU, silhouette_fill=one.silhouette_fill)
    ref = extract_mesh(before.sdf, resolution=40, device=CPU,
                       silhouette_fill=before.silhouette_fill)
    assert np.array_equal(mesh.vertices, ref.vertices) and np.array_equal(mesh.faces, ref.faces)


def test_several_photos_read_the_fusion_and_other_weights_still_intersect():
    pred = NetworkPredictor(CPU, SHIPPED)
    plain = without_fusion(pred)
    images, transforms = [photo(0), photo(1)], [np.eye(4), turned(90)]
    pts = torch.rand(2000, 3, generator=torch.Generator().manual_seed(1)) - 0.5
    fused = pred.predict_views(images, transforms).sdf(pts)
    intersected = plain.predict_views(images, transforms).sdf(pts)
    assert torch.equal(intersected, pred.intersected_views(images, transforms).sdf(pts))
    assert not torch.allclose(fused, intersected, atol=1e-3)
    assert not torch.allclose(fused, pred.predict(images[0]).sdf(pts), atol=1e-3)
