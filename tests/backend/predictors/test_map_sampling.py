"""The sparse bicubic reader against torch's grid_sample, and its cache of texel rows."""

from __future__ import annotations

import gc
import threading

import pytest
import torch

from backend.model.network import sample_maps
from backend.predictors.map_sampling import MapSampler, bicubic_matrix, cubic_weights


def _maps_and_points(height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    fmap = torch.randn(2, 5, height, width, generator=g)
    # inside the image, on its border and well outside it (border padding clamps the taps)
    ndc = torch.rand(2, 300, 2, generator=g) * 3.0 - 1.5
    ndc[:, :4] = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [-1.0, 1.0]])
    return fmap, ndc


@pytest.mark.parametrize("size", [(16, 16), (8, 24), (32, 4)])
def test_sparse_bicubic_equals_grid_sample(size):
    fmap, ndc = _maps_and_points(*size)
    with torch.no_grad():
        ours = MapSampler()(fmap, ndc, "bicubic")
    torch.testing.assert_close(ours, sample_maps(fmap, ndc, "bicubic"), atol=2e-6, rtol=1e-5)


def test_the_weights_of_the_four_taps_sum_to_one_and_hit_the_texel_centre():
    t = torch.linspace(0, 0.999, 50)
    torch.testing.assert_close(cubic_weights(t).sum(-1), torch.ones(50))
    torch.testing.assert_close(cubic_weights(torch.zeros(1)), torch.tensor([[0.0, 1.0, 0.0, 0.0]]))


def test_the_matrix_has_sixteen_taps_a_point_inside_its_batch_item():
    _, ndc = _maps_and_points(8, 8)
    matrix = bicubic_matrix(ndc, 8, 8).to_dense()
    assert matrix.shape == (600, 128)
    assert torch.count_nonzero(matrix[:300, 64:]) == 0  # item 0's points read item 0's map only
    assert torch.count_nonzero(matrix[300:, :64]) == 0


def test_bilinear_and_autograd_go_to_grid_sample_unchanged():
    fmap, ndc = _maps_and_points(16, 16)
    sampler = MapSampler()
    with torch.no_grad():
        assert torch.equal(sampler(fmap, ndc, "bilinear"), sample_maps(fmap, ndc, "bilinear"))
    fmap.requires_grad_(True)
    read = sampler(fmap, ndc, "bicubic")
    assert torch.equal(read, sample_maps(fmap, ndc, "bicubic"))
    read.sum().backward()
    assert fmap.grad is not None


def test_rows_are_made_once_per_map_and_let_go_with_it():
    fmap, ndc = _maps_and_points(16, 16)
    sampler = MapSampler()
    with torch.no_grad():
        first = sampler(fmap, ndc, "bicubic")
        assert len(sampler._rows) == 1
        assert torch.equal(sampler(fmap, ndc, "bicubic"), first)
        assert len(sampler._rows) == 1
        other = fmap * 2.0
        torch.testing.assert_close(sampler(other, ndc, "bicubic"), 2.0 * first)
        assert len(sampler._rows) == 2
    del fmap, other
    gc.collect()
    assert sampler._rows == {}


def test_threads_reading_at_once_get_the_same_values():
    fmap, ndc = _maps_and_points(32, 32)
    sampler = MapSampler()
    with torch.no_grad():
        expected = sample_maps(fmap, ndc, "bicubic")
    results: list[torch.Tensor] = []
    start = threading.Barrier(4)

    def read() -> None:
        start.wait(timeout=30)
        with torch.no_grad():
            results.append(sampler(fmap, ndc, "bicubic"))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4
    for result in results:
        torch.testing.assert_close(result, expected, atol=2e-6, rtol=1e-5)
    assert len(sampler._rows) == 1
