"""backend.options: one validation for the command line and the server, naming what is wrong."""

from __future__ import annotations

import pytest

from backend.errors import BackendError
from backend.options import ReconstructOptions


def test_defaults_match_the_api():
    opts = ReconstructOptions()
    assert opts.to_json() == {"resolution": 256, "face_budget": 25_000, "background": "auto",
                              "predictor": "auto", "name": "", "keep_sdf": False,
                              "flip_average": "auto", "silhouette_fill": "auto",
                              "texture_size": 1024, "vertex_colors": False}


def test_from_strings_parses_types():
    opts = ReconstructOptions.from_strings({
        "resolution": "64", "face_budget": "0", "background": "remove", "predictor": "baseline",
        "name": "my apple.jpg", "keep_sdf": "true", "flip_average": "off",
        "silhouette_fill": "off"})
    assert opts == ReconstructOptions(64, 0, "remove", "baseline", "my apple.jpg", True, "off",
                                      "off")
    for text, value in [("1", True), ("yes", True), ("FALSE", False), ("0", False)]:
        assert ReconstructOptions.from_strings({"keep_sdf": text}).keep_sdf is value


@pytest.mark.parametrize(
    ("raw", "names"),
    [({"resolution": "abc"}, "resolution"), ({"resolution": "100"}, "power of two"),
     ({"resolution": "16"}, "resolution"), ({"resolution": "512"}, "resolution"),
     ({"resolution": "1.5"}, "resolution"), ({"face_budget": "-1"}, "face_budget"),
     ({"face_budget": "99999999"}, "face_budget"), ({"face_budget": "1"}, "face_budget"),
     ({"face_budget": "99"}, "face_budget"), ({"background": "green"}, "background"),
     ({"predictor": "magic"}, "predictor"), ({"keep_sdf": "maybe"}, "keep_sdf"),
     ({"name": "x" * 201}, "name"), ({"colour": "red"}, "colour"),
     ({"flip_average": "yes"}, "flip_average"), ({"silhouette_fill": "on"}, "silhouette_fill")],
)
def test_bad_values_name_the_option(raw, names):
    with pytest.raises(BackendError) as info:
        ReconstructOptions.from_strings(raw)
    assert info.value.code == "bad_options" and info.value.http_status == 422
    assert names in info.value.message


def test_every_power_of_two_in_range():
    for r in (32, 64, 128, 256):
        assert ReconstructOptions(resolution=r).resolution == r


def test_face_budget_range():
    """0 keeps every face; otherwise at least 100, since a budget of 1 decimated a whole object
    to an empty mesh that still counted as a success."""
    for budget in (0, 100, 200_000, 5_000_000):
        assert ReconstructOptions(face_budget=budget).face_budget == budget


def test_flip_average_maps_to_the_predictor_override():
    """auto keeps the weights' calibrated setting (None); on and off force it."""
    modes = ("auto", "on", "off")
    got = {m: ReconstructOptions(flip_average=m).flip_average_override() for m in modes}
    assert got == {"auto": None, "on": True, "off": False}
