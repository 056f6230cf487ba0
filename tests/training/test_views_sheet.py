"""training.views_sheet: held-out shapes from 1, 2 and 4 photos on one sheet (issue 35)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from test_evaluate_views import fusion_weights, views_data  # noqa: F401 - the fixture

from backend.predictors.network import NetworkPredictor
from training import evaluate_views as EV
from training import views_sheet as VS


def test_a_row_holds_the_photos_a_mesh_per_count_and_the_truth(views_data, tmp_path):  # noqa: F811
    network = NetworkPredictor(torch.device("cpu"), fusion_weights(tmp_path / "w.safetensors"))
    shape = EV.load_shapes(views_data, "test", per_source=1)[0]
    row = VS.sheet_row(network, views_data, shape, resolution=32)
    assert len(row["photos"]) == 4 and row["photos"][0].shape == (128, 128, 3)
    assert set(row["meshes"]) == {1, 2, 4} and len(row["truth"].faces) > 0
    for n, mesh in row["meshes"].items():  # the Chamfer-L1 is each mesh's own, or None
        assert (row["chamfer"][n] is None) == (mesh is None or len(mesh.faces) == 0)
    side = VS.render_mesh(row["truth"], *VS.SIDE, size=VS.TILE)
    assert (side < 250).any()  # the truth is drawn


def test_the_sheet_has_a_row_per_shape_and_the_extra_set(views_data, tmp_path, capsys):  # noqa: F811
    weights = fusion_weights(tmp_path / "w.safetensors")
    out = tmp_path / "sheet.png"
    VS.main(["--model", str(weights), "--data", str(views_data), "--sources", "sphere",
             "--extra", str(views_data), "--extra-sources", "sphere", "--resolution", "32",
             "--out", str(out)])
    with Image.open(out) as im:
        assert im.size == (2 * VS.PHOTO + 4 * (VS.TILE + 4) + 8,
                           34 + 2 * (VS.TILE + 2 * VS.LABEL))
        pixels = np.asarray(im.convert("RGB"))
    assert (pixels < 250).any()
    printed = capsys.readouterr().out
    assert printed.count("sphere: sphere_") == 2 and f"wrote {out}" in printed
