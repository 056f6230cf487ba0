"""Side-view ridges: how rough a network's hidden back surface is, and at which period.

Meshes showed fine horizontal ridges on their backs (docs/MODEL.md section 5). This traces the
back surface along the view frame's vertical line x = 0, takes its deviation from a running
mean, and names the strongest periods in texels of the decoder's 64 px maps, so that a change to
the decoder is judged by a number rather than by eye. The flip average is off: it would hide
what the network itself does.

    python -m training.ridges --weights backend/weights/slice3d_compact.safetensors \\
        runs/slice3d_u/model.safetensors --image examples/apple.jpg
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from backend.contract import CAMERA_DISTANCE, frustum_half_width
from backend.predictors.network import NetworkPredictor
from training.evaluate import photo_input

MAP_SIZE = 64  # the decoder maps the point features are sampled from
TEXEL = 2 * frustum_half_width(CAMERA_DISTANCE) / MAP_SIZE  # view-frame height of a texel at z = 0


def back_depth(sdf: Callable[[np.ndarray], np.ndarray], ys: np.ndarray,
               zs: np.ndarray) -> np.ndarray:
    """Depth of the surface seen from behind (the first entry along +z) at each height on x = 0;
    NaN where the line misses the object. ``zs`` ascends; the camera looks down -z."""
    grid = np.stack(np.meshgrid(np.zeros(1), ys, zs, indexing="ij"), -1).reshape(-1, 3)
    s = sdf(grid.astype(np.float32)).reshape(len(ys), len(zs))
    depth = np.full(len(ys), np.nan)
    for i, row in enumerate(s):
        inside = np.flatnonzero(row < 0)
        if len(inside) and inside[0] > 0:
            j = inside[0]
            t = row[j - 1] / (row[j - 1] - row[j])
            depth[i] = zs[j - 1] + t * (zs[j] - zs[j - 1])
    return depth


def ridge_stats(depth: np.ndarray, ys: np.ndarray, texel: float = TEXEL,
                window: int = 31, top: int = 3) -> dict:
    """Standard deviation of the depth from its running mean over ``window`` heights, and the
    ``top`` strongest periods of that deviation, in texels. Needs evenly spaced ``ys``."""
    ok = ~np.isnan(depth)
    d = depth[ok]
    if len(d) < 2 * window:
        return {"rows": int(ok.sum()), "std": None, "periods_texels": []}
    half = window // 2
    dev = (d - np.convolve(d, np.ones(window) / window, mode="same"))[half:-half]
    power = np.abs(np.fft.rfft(dev - dev.mean())) ** 2
    freq = np.fft.rfftfreq(len(dev), d=float(ys[1] - ys[0]))
    best = np.argsort(power[1:])[::-1][:top] + 1
    return {"rows": int(ok.sum()), "std": float(dev.std()),
            "periods_texels": [round(float(1 / freq[k] / texel), 2) for k in best]}


def network_sdf(weights: Path, model_input: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The network's plain SDF (its own feature sampling and depth clip, no flip average)."""
    pred = NetworkPredictor(torch.device("cpu"), weights).predict(model_input, flip_average=False)
    return lambda pts: pred.sdf(torch.from_numpy(pts)).numpy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.ridges", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, nargs="+", required=True)
    ap.add_argument("--image", type=Path, default=Path("examples/apple.jpg"))
    ap.add_argument("--heights", type=int, default=600, help="rows traced on x = 0")
    ap.add_argument("--span", type=float, default=0.2, help="rows cover y in [-span, span]")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model_input = photo_input(a.image)
    ys = np.linspace(-a.span, a.span, a.heights)
    zs = np.linspace(-0.55, 0.55, 2201)
    for w in a.weights:
        stats = ridge_stats(back_depth(network_sdf(w, model_input), ys, zs), ys)
        std = "no back surface" if stats["std"] is None else f"{stats['std']:.5f}"
        print(f"{w}: rows {stats['rows']}/{a.heights}, ridge std {std}, "
              f"strongest periods (texels of {MAP_SIZE} px) {stats['periods_texels']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
