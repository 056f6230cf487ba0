"""The colour measurement on a hand-built textured box, reconstructed by the real backend.

The box is grey with a red stripe on its front only. From its front view, the old vertex
colours copy the stripe straight through onto the back; the baked texture paints the unseen back
with the object's median visible colour, grey, as the box really is. So the back view's error
must be larger with vertex colours, and the reference against itself must score about 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor
from backend.predictors import NETWORK_WEIGHTS
from training.data.mesh import ShapeMesh
from training.texture_eval import (
    DEFAULT_MODES,
    MODES,
    ModelReconstructor,
    Photos,
    appearance,
    markdown,
    reconstruct,
    reframed,
    score_sample,
    summarise,
    true_colour,
)
from training.texture_render import colour_error, moved, render, to_uint8

HALF = np.array([0.22, 0.22, 0.18])  # half extents: about half the frame, as training objects sit
GREY, RED = np.array([150, 150, 150]), np.array([220, 30, 30])


def stripe_texture() -> np.ndarray:
    """Left half of the atlas: the front (grey, a red vertical stripe); right half: plain grey."""
    tex = np.empty((64, 64, 3), np.uint8)
    tex[:] = GREY
    tex[:, 12:20] = RED  # the front's middle quarter (u 0.19..0.31 of the atlas)
    return tex


def striped_box() -> ShapeMesh:
    """A box in the view frame, 4 vertices per face so each face has its own UVs."""
    faces_at = {  # (axis, sign): the face's outward direction
        (2, 1): ((0, 0.0), (0.5, 1.0)), (2, -1): ((0.6, 0.1), (0.9, 0.9)),
        (0, 1): ((0.6, 0.1), (0.9, 0.9)), (0, -1): ((0.6, 0.1), (0.9, 0.9)),
        (1, 1): ((0.6, 0.1), (0.9, 0.9)), (1, -1): ((0.6, 0.1), (0.9, 0.9)),
    }
    verts, uvs, tris = [], [], []
    for (axis, sign), ((u0, v0), (u1, v1)) in faces_at.items():
        a, b = [k for k in range(3) if k != axis]
        base = len(verts)
        for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            p = np.zeros(3)
            p[axis], p[a], p[b] = sign * HALF[axis], sa * HALF[a], sb * HALF[b]
            verts.append(p)
            uvs.append((u0 if sa < 0 else u1, v0 if sb < 0 else v1))
        quad = [(0, 1, 2), (0, 2, 3)] if sign > 0 else [(0, 2, 1), (0, 3, 2)]
        tris += [[base + i for i in t] for t in quad]
    return ShapeMesh(np.array(verts), np.array(tris), uv=np.array(uvs, np.float64),
                     texture=stripe_texture())


def input_image(box: ShapeMesh) -> np.ndarray:
    """The box as the input camera sees it: RGBA, its own alpha."""
    front = render(box, 0.0, 0.0, 256)
    alpha = np.where(front.hit, 255, 0).astype(np.uint8)
    return np.concatenate([to_uint8(front), alpha[..., None]], -1)


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict:
    box = striped_box()
    rec = Reconstructor(torch.device("cpu"))
    work = tmp_path_factory.mktemp("bundles")
    preds = {}
    for name, vc in [m for m in MODES if m[0] in DEFAULT_MODES]:
        opts = ReconstructOptions(resolution=64, background="alpha", predictor="baseline",
                                  vertex_colors=vc, texture_size=512)
        preds[name] = reconstruct(rec, Photos.single(input_image(box)), opts, Path(work))
    scores, _ = score_sample(box, preds, 96)
    return scores


def test_the_stripe_shows_in_the_input_view():
    front = render(striped_box(), 0.0, 0.0, 96)
    centre = front.rgb[48, 44:52]
    assert front.hit[48, 48] and (centre[:, 0] > 2 * centre[:, 1]).any()  # red somewhere mid


def test_reference_against_itself_scores_zero():
    box = striped_box()
    for az, el in ((0.0, 0.0), (180.0, 0.0), (0.0, 60.0)):
        r = render(box, az, el, 64)
        err, n = colour_error(r, r)
        assert n > 500 and err == pytest.approx(0.0, abs=1e-9)


def test_back_view_texture_beats_vertex_colours(scored):
    assert scored["texture/back/pixels"] > 500 and scored["vertex/back/pixels"] > 500
    assert scored["vertex/back"] > scored["texture/back"] + 2.0  # CIEDE2000 units
    # The front is photo pixels in both modes: the texture may not be worse there by much.
    assert scored["texture/input"] < scored["vertex/input"] + 2.0


def test_summary_puts_the_texture_ahead_on_side_and_back(scored):
    rows = [{"shape_id": "box", "source": "hand-built", **scored}]
    summary = {s["view"]: s for s in summarise(rows, draws=50) if s["group"] == "all"}
    assert set(summary) == {"input", "side", "back", "above", "side+back"}
    sb = summary["side+back"]
    assert sb["texture"] < sb["vertex"] and sb["rel"] < 0
    assert 0.5 < summary["input"]["iou"] <= 1.0  # the prediction sits where the box does
    assert "side+back" in markdown(list(summary.values()))


def test_a_border_touching_input_is_flagged_as_reframed():
    box = striped_box()
    assert not reframed(input_image(box))
    shifted = moved(box, np.array([[1, 0, 0, 0.45], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    assert reframed(input_image(shifted))


def test_only_uv_textured_references_count_as_the_truth():
    box = striped_box()
    assert appearance(box) == "texture"
    plain = ShapeMesh(box.vertices, box.faces)
    assert appearance(plain) == "none"
    plain.vertex_colors = np.full((len(box.vertices), 3), 0.5)
    assert appearance(plain) == "vertex"


def test_model_runs_given_weights_with_settings_from_another_file(tmp_path):
    """--model fixes every job's predictor to those weights; --settings-from lends them the
    inference settings a training run's file lacks; --settings-from alone is refused."""
    from backend.model import ModelConfig, Slice3DCompact, save_weights
    from backend.predictors.network import InferenceSettings
    from training.texture_eval import make_reconstructor, parse_args

    tiny = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1,
            "ff": 32, "colour_head": "mlp"}
    model = Slice3DCompact(ModelConfig.from_dict(tiny))
    run = save_weights(model, tmp_path / "run.safetensors", dtype=torch.float32)
    shipped = save_weights(model, tmp_path / "shipped.safetensors", dtype=torch.float32,
                           metadata=InferenceSettings(flip_average=True).to_metadata())
    args = parse_args(["--data", "d", "--out", "o", "--model", str(run),
                       "--settings-from", str(shipped)])
    rec = make_reconstructor(args)
    got = rec.predictor("auto")
    assert got is rec.predictor("network") and got.model.colour_head is not None
    assert got.settings == InferenceSettings(flip_average=True)
    plain = make_reconstructor(parse_args(["--data", "d", "--out", "o", "--model", str(run)]))
    assert plain.predictor("auto").settings == InferenceSettings()
    with pytest.raises(SystemExit, match="goes with --model"):
        make_reconstructor(parse_args(["--data", "d", "--out", "o", "--settings-from", "x"]))


def test_pair_with_reruns_the_kept_samples_and_joins_the_earlier_scores():
    from training.texture_eval import join_earlier, paired_samples

    def row(index: int, reframed: bool = False, look: str = "texture") -> dict:
        return {"shard": "val/a.npz", "index": index, "reframed": reframed, "appearance": look,
                "vertex/back": 20.0 + index, "texture/back": 18.0 + index,
                "texture/back/pixels": 100}

    earlier = [row(0), row(1, reframed=True), row(2, look="vertex"), row(3)]
    samples = [{"shard": "val/a.npz", "index": i} for i in (3, 2, 1, 0)]
    assert [s["index"] for s in paired_samples(samples, earlier)] == [0, 3]
    with pytest.raises(SystemExit, match="not in this data"):
        paired_samples(samples[:1], earlier)
    new = [{"shard": "val/a.npz", "index": 3, "texture/back": 10.0}]
    join_earlier(new, earlier, ["texture"])
    assert new[0] == {"shard": "val/a.npz", "index": 3, "texture/back": 10.0,
                      "vertex/back": 23.0, "median/back": 21.0, "median/back/pixels": 100}


def test_views_takes_the_shapes_next_renders_with_poses_relative_to_the_sample(tmp_path):
    from training.texture_eval import shape_photos

    ids = np.array(["a", "b", "b", "b", "b", "b", "c"])
    views = np.array([[0, 0, 1], [300, 10, 1], [20, -5, 1], [120, 30, 0.8], [250, 0, 1],
                      [90, 5, 1], [0, 0, 1]], np.float32)
    images = np.arange(7, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 4), np.uint8)
    np.savez(tmp_path / "s.npz", shape_id=ids, view=views, image=images)
    sample = {"shard": "s.npz", "index": 2, "shape_id": "b", "image": images[2]}
    photos = shape_photos(tmp_path, sample, 4)
    assert [int(i[0, 0, 0]) for i in photos.images] == [2, 1, 3, 4]  # itself, then shard order
    np.testing.assert_allclose(photos.azimuths, [0.0, 280.0, 100.0, 230.0])
    np.testing.assert_allclose(photos.elevations, [-5.0, 10.0, 30.0, 0.0])
    assert len(shape_photos(tmp_path, {**sample, "index": 6, "shape_id": "c"}, 4).images) == 1
    assert shape_photos(tmp_path, sample, 1).images[0] is sample["image"]


def test_a_texture_only_run_has_no_summary_of_its_own():
    rows = [{"shape_id": "s", "source": "x", "texture/input": 1.0}]
    assert summarise(rows) == []


def test_true_colour_reads_the_reference_albedo_at_the_closest_surface_point():
    colour = true_colour(striped_box())
    z = HALF[2]
    got = colour(np.array([[0.0, -0.02, z + 0.01], [0.0, 0.0, -z - 0.01], [0.2, 0.0, 0.0]]))
    np.testing.assert_allclose(got[0], RED / 255.0, atol=0.02)  # the stripe, on the front
    np.testing.assert_allclose(got[1], GREY / 255.0, atol=0.02)  # the plain back
    np.testing.assert_allclose(got[2], GREY / 255.0, atol=0.02)  # a plain side


def test_the_oracle_mode_paints_the_unseen_side_in_the_true_colour(tmp_path):
    """The oracle replaces only the guess: the back, which the photo cannot see, takes the
    reference's own grey, closer than the texture's guess (the de-lit front's median colour);
    a summary of the oracle against the texture says so (3.5 against 4.5 at the back)."""
    box = striped_box()
    rec = ModelReconstructor(torch.device("cpu"), NETWORK_WEIGHTS)
    opts = ReconstructOptions(resolution=64, background="alpha", texture_size=512)
    preds = {}
    for name in ("texture", "oracle"):
        rec.network.oracle = true_colour(box) if name == "oracle" else None
        preds[name] = reconstruct(rec, Photos.single(input_image(box)), opts, tmp_path / name)
    scores, _ = score_sample(box, preds, 96)
    assert scores["oracle/back"] < scores["texture/back"]
    rows = [{"shape_id": "box", "source": "hand-built", **scores}]
    summary = {s["view"]: s for s in summarise(rows, draws=50, before="texture", after="oracle")
               if s["group"] == "all"}
    assert summary["back"]["rel"] < 0
    assert "oracle vs texture" in markdown(list(summary.values()), "texture", "oracle")
