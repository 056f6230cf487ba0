"""client/views.py: which photo sets and poses may be sent; sentences for photos left out."""

from __future__ import annotations

import pytest

from client import contract
from client.http import views_query
from client.views import MAX_VIEWS, Poses, ViewsError, check_views, unused_photos


def test_the_limit_is_the_contracts():
    assert MAX_VIEWS == contract.MAX_VIEWS == 6


@pytest.mark.parametrize("count", [1, 2, MAX_VIEWS])
def test_one_to_six_photos_pass(count):
    check_views(count, Poses(tuple(float(30 * k) for k in range(count)), (20.0,) * count))


@pytest.mark.parametrize(("count", "poses", "words"), [
    (MAX_VIEWS + 1, Poses(), "At most 6 photos"),
    (0, Poses(), "Choose a photo"),
    (3, Poses(azimuths=(0.0, 90.0)), "2 azimuths for 3 photos"),
    (2, Poses(elevations=(10.0, 10.0, 10.0)), "3 elevations for 2 photos"),
    (2, Poses(azimuths=(15.0, 90.0)), "main photo's azimuth must be 0"),
    (2, Poses(elevations=(10.0, 85.0)), "elevation of photo 2 must be between -80 and 80"),
    (2, Poses(azimuths=(0.0, float("nan"))), "azimuth of photo 2 is not a number"),
])
def test_a_bad_set_is_named_in_words(count, poses, words):
    with pytest.raises(ViewsError, match=words):
        check_views(count, poses)


def test_the_query_carries_sizes_in_order_and_the_poses_in_degrees():
    query = views_query([b"abc", b"de", b"f" * 10], (0, 90, 182.5), None)
    assert query == {"view_sizes": "3,2,10", "azimuths": "0,90,182.5"}
    assert "elevations" not in views_query([b"a"], None, None)
    assert views_query([b"a", b"b"], None, (20, -5))["elevations"] == "20,-5"


def test_photos_left_out_are_named_with_the_backends_reason():
    """The backend's own name for a photo sent over HTTP ("photo 2") gives way to the user's."""
    left_out = ("Photo 2 (photo 2) was left out: no camera position makes it match the first "
                "photo's object; its outline agrees only 21% with the shape seen in the first "
                "photo (at least 60% needed).")
    result = {"views": [
        {"index": 0, "source": "front.jpg", "used": True, "message": None},
        {"index": 1, "source": "photo 2", "used": False, "message": left_out},
        {"index": 2, "source": "photo 3", "used": True, "message": None},
        {"index": 3, "source": "", "used": False, "message": None}],
        "warnings": [left_out, "Photo 3 (photo 3): at the pose given its outline agrees only "
                     "40% with the shape seen in the first photo; check its azimuth and "
                     "elevation.", "The texture could not be baked"]}
    assert unused_photos(result, ["front.jpg", "side.jpg", "back.jpg"]) == [
        "Photo 2 (side.jpg) was left out: no camera position makes it match the first photo's "
        "object; its outline agrees only 21% with the shape seen in the first photo (at least "
        "60% needed).",
        "Photo 4 was left out: no pose fits it",
        "Photo 3 (back.jpg): at the pose given its outline agrees only 40% with the shape seen "
        "in the first photo; check its azimuth and elevation."]
    assert unused_photos(result)[0].startswith("Photo 2 (photo 2) was left out: no camera")
    one = {"views": [result["views"][0]], "warnings": ["Photo 1 (front.jpg) is dark"]}
    assert unused_photos(one) == []  # a one-photo job: its warnings are its own business
    assert unused_photos({"warnings": []}) == []  # a bundle from before several photos
