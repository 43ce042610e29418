"""Exact nearest neighbours: the tie rule in both search modes, real image patches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import shared_path
from synthcl.generators.nearest import BLOCK, Keys, nearest


@pytest.fixture(scope="module")
def pcam_source() -> torch.Tensor:
    path = shared_path("pcam", "test", "1", "patch0000001.jpg")
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None]


@pytest.mark.parametrize("second", [False, True])
def test_exact_ties_go_to_the_lowest_index(second):
    """Duplicated keys tie exactly: both search modes return the first copy, across blocks."""
    g = torch.Generator().manual_seed(0)
    keys = torch.rand(3 * BLOCK, 5, generator=g)
    keys[2 * BLOCK + 7] = keys[BLOCK + 3] = keys[40]          # three copies in three blocks
    keys[BLOCK + 9] = keys[BLOCK + 1]                          # two copies in one block
    queries = torch.cat([keys[[40, BLOCK + 1]], torch.rand(30, 5, generator=g)])
    found = nearest(queries, Keys(keys), second=second)
    assert found.index[:2].tolist() == [40, BLOCK + 1]
    if second:
        assert float(found.second[:2].max()) < 1e-5         # the other copy, at distance 0


def test_neighbours_of_real_patches_equal_a_float64_full_search(pcam_source):
    """PCam 7x7 patches against blurred keys: the nearest key is the float64 nearest, or one
    within float32 rounding of |q|^2 + |k|^2 - 2 q.k from it (1e-6 of the squared norms)."""
    image = pcam_source[:, :, :48, :48].float() / 255
    keys = F.unfold(F.avg_pool2d(image, 3, 1, 1, count_include_pad=False), 7)[0].T
    queries = F.unfold(image + 0.02 * torch.randn(image.shape,
                                                   generator=torch.Generator().manual_seed(0)),
                       7)[0].T
    exact = torch.cdist(queries.double(), keys.double()).square()
    scale = queries.double().square().sum(1) + keys.double().square().sum(1).max()
    for second in (False, True):
        found = nearest(queries, Keys(keys), second=second, tile_elements=1 << 16)
        chosen = exact.gather(1, found.index[:, None])[:, 0]
        best = exact.min(1).values
        assert bool((chosen - best <= 1e-6 * scale).all()), float((chosen - best).max())
        assert (found.index == exact.argmin(1)).float().mean() > 0.99


def _one_product_per_tile(queries: torch.Tensor, keys: Keys, rows: int):
    """The plain search: one product per tile of ``rows`` queries, ``min`` and ``topk`` per row."""
    index, dist, second = [], [], []
    for start in range(0, len(queries), rows):
        q = queries[start:start + rows]
        q_sqnorm = torch.linalg.vector_norm(q, dim=1).square_()
        scores = torch.cat([q, q.new_ones((len(q), 1))], 1) @ keys.augmented.T
        best, where = scores.min(1)
        index.append(where)
        dist.append(best + q_sqnorm)
        second.append(scores.topk(2, 1, largest=False).values[:, 1] + q_sqnorm)
    return torch.cat(index), torch.cat(dist).clamp_(min=0), torch.cat(second).clamp_(min=0)


@pytest.mark.parametrize(("count", "rows"), [(1000, 300), (1000, 333), (1000, 997), (1000, 3),
                                             (1000, 2000), (5, 64), (263, 128)])
@pytest.mark.parametrize("real", [False, True])
def test_chunked_regrouped_search_equals_one_product_per_tile(count, rows, real, pcam_source):
    """Products over chunks of keys and regrouped tiles (with their 1-6 row remainders alone) give
    the plain search's bytes: indices, distances and second distances."""
    g = torch.Generator().manual_seed(count + rows)
    if real:
        image = pcam_source[:, :, :60, :60].float() / 255
        keys = F.unfold(F.avg_pool2d(image, 3, 1, 1, count_include_pad=False), 7)[0].T
        queries = F.unfold(image + 0.05 * torch.randn(image.shape, generator=g), 7)[0].T[:count]
    else:
        keys, queries = torch.rand(2500, 147, generator=g), torch.rand(count, 147, generator=g)
    prepared = Keys(keys)
    assert len(prepared.chunks) > 1
    for layout in (queries.contiguous(), queries.T.contiguous().T):
        found = nearest(layout, prepared, second=True, tile_elements=rows * len(prepared.sqnorm))
        index, dist, second = _one_product_per_tile(layout, prepared, rows)
        assert torch.equal(found.index, index)
        assert torch.equal(found.dist, dist) and torch.equal(found.second, second)
