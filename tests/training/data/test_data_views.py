"""Camera and view-frame conventions (ARCHITECTURE.md 4): known points land on known pixels."""

from __future__ import annotations

import numpy as np
import pytest

from backend.geometry import CAMERA_DISTANCE, FOCAL_NDC, ndc_to_pixel, project_ndc
from training.data.views import View, camera_position, camera_rays, sample_view


def test_front_view_axes():
    v = View(0.0, 0.0, 1.0)
    # azimuth 0 looks at the object's front: object +X is image right, +Y up, +Z toward camera
    np.testing.assert_allclose(v.to_view([[0.1, 0.0, 0.0]]), [[0.1, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(v.to_view([[0.0, 0.1, 0.0]]), [[0.0, 0.1, 0.0]], atol=1e-12)
    np.testing.assert_allclose(v.to_view([[0.0, 0.0, 0.1]]), [[0.0, 0.0, 0.1]], atol=1e-12)


def test_azimuth_and_elevation_move_the_camera():
    np.testing.assert_allclose(camera_position(90, 0), [CAMERA_DISTANCE, 0, 0], atol=1e-12)
    v = View(90.0, 0.0, 1.0)  # camera on +X: object +X comes toward the camera, +Z goes left
    np.testing.assert_allclose(v.to_view([[0.1, 0, 0]]), [[0, 0, 0.1]], atol=1e-12)
    np.testing.assert_allclose(v.to_view([[0, 0, 0.1]]), [[-0.1, 0, 0]], atol=1e-12)
    up = View(0.0, 40.0, 1.0)  # from above, the top of the object tilts toward the camera
    assert up.to_view([[0, 0.1, 0]])[0, 2] > 0


def test_scale_and_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        v = sample_view(rng)
        assert -10 <= v.elevation_deg <= 40 and 0.75 <= v.scale <= 1.1
        p = rng.normal(size=(5, 3))
        np.testing.assert_allclose(v.to_object(v.to_view(p)), p, atol=1e-12)
        m = v.matrix
        np.testing.assert_allclose(p @ m[:3, :3].T, v.to_view(p), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(m[:3, :3]), v.scale**3, rtol=1e-9)


@pytest.mark.parametrize("size", [128, 256])
def test_known_point_known_pixel(size):
    # a view-frame point at depth 1.2 + 0.3 straight along pixel (i, j)'s centre ray
    origin, dirs = camera_rays(size)
    i, j = size // 4, size // 3
    d = dirs[i * size + j]
    p = origin + d * (1.5 / -d[2])
    ndc, depth = project_ndc(p[None])
    col, row = ndc_to_pixel(ndc, size)[0]
    assert int(col) == j and int(row) == i
    np.testing.assert_allclose(depth, 1.5)
    # and the object-frame point 0.1 right of centre in the front view, at depth 1.2
    ndc, _ = project_ndc(View(0, 0, 1).to_view([[0.1, 0, 0]]))
    np.testing.assert_allclose(ndc[0], [FOCAL_NDC * 0.1 / CAMERA_DISTANCE, 0.0])


# Two samples of one shape as the data engine wrote them (data/v1/test/pybullet-00000.npz,
# samples 0 and 1: `view` and `object_to_view`), pinned so that the one rotation the data engine
# and the backend now share cannot drift.
PINNED_VIEWS = [[57.35747146606445, 24.35176658630371, 0.9754167199134827],
                [170.9412841796875, 21.07009506225586, 1.091854453086853]]
PINNED_MATRICES = [
    [[0.5261358618736267, 0.0, -0.8213518261909485, 0.0],
     [-0.33867427706718445, 0.888634979724884, -0.216945618391037, 0.0],
     [0.7482770681381226, 0.4022010266780853, 0.47932612895965576, 0.0], [0.0, 0.0, 0.0, 1.0]],
    [[-1.0782362222671509, 0.0, -0.17190857231616974, 0.0],
     [-0.06180282309651375, 1.0188543796539307, 0.38763654232025146, 0.0],
     [0.16041499376296997, 0.3925323784351349, -1.006146788597107, 0.0], [0.0, 0.0, 0.0, 1.0]],
]


def test_data_engine_matrices_unchanged_and_match_backend_poses():
    from backend.multiview.poses import view_transform

    views = [View(*(float(x) for x in v)) for v in PINNED_VIEWS]
    for view, stored in zip(views, PINNED_MATRICES, strict=True):
        np.testing.assert_allclose(view.matrix, stored, atol=2e-7)  # float32 as stored
    truth = np.asarray(PINNED_MATRICES[1]) @ np.linalg.inv(PINNED_MATRICES[0])
    mine = view_transform(views[1].azimuth_deg - views[0].azimuth_deg, views[0].elevation_deg,
                          views[1].elevation_deg)
    mine[:3, :3] *= views[1].scale / views[0].scale
    np.testing.assert_allclose(mine, truth, atol=1e-6)


def test_backend_poses_match_every_built_test_shape():
    """Where data/v1 is built: every pair of samples of one shape in the test split."""
    from pathlib import Path

    from backend.multiview.poses import view_transform

    files = sorted(Path("data/v1/test").glob("*.npz"))
    if not files:
        pytest.skip("data/v1/test is not built here")
    pairs = 0
    for path in files[:4]:
        with np.load(path) as d:
            ids, views, mats = d["shape_id"], d["view"], d["object_to_view"]
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                if ids[i] != ids[j]:
                    continue
                truth = mats[j].astype(np.float64) @ np.linalg.inv(mats[i])
                mine = view_transform(float(views[j, 0] - views[i, 0]), float(views[i, 1]),
                                      float(views[j, 1]))
                mine[:3, :3] *= views[j, 2] / views[i, 2]
                np.testing.assert_allclose(mine, truth, atol=2e-6)
                pairs += 1
    assert pairs > 0
