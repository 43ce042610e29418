"""Exact nearest neighbours (ties, real patches), the neighbour reuse and fixed-point stop of GPNN,
the official resizer and fold, and the presets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import shared_path
from synthcl.errors import SynthclError
from synthcl.generators import build_generator
from synthcl.generators import gpnn as gpnn_module
from synthcl.generators.gpnn import GPNN, _fold_weights
from synthcl.generators.nearest import BLOCK, Keys, nearest
from synthcl.generators.resize import resize


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


def _full_search_every_iteration(monkeypatch):
    def refresh(self, queries, motion, keys, track):
        fresh = gpnn_module._Bounds.search(queries, keys, track)
        self.index, self.far = fresh.index, fresh.far

    monkeypatch.setattr(gpnn_module._Bounds, "refresh", refresh)


def test_reuse_and_fixed_point_stop_equal_the_plain_loop_on_pcam(pcam_source, monkeypatch):
    """Reused neighbours and stopping at a fixed point change nothing: the same bytes as a full
    search at every one of the 10 iterations."""
    source = pcam_source[:, :, :40, :40].expand(2, -1, -1, -1).contiguous()
    gen = GPNN()
    draws = gen.draw(2, 3, 40, 40, torch.Generator().manual_seed(0))
    fast = gen.apply(source, draws)
    _full_search_every_iteration(monkeypatch)
    monkeypatch.setattr(gpnn_module, "_repeats", lambda index, last: False)
    assert torch.equal(fast, gen.apply(source, draws))


def test_resize_matches_the_official_resizer():
    """Pinned outputs of ResizeRight (the official code's resizer, its defaults) on ramps."""
    x = (torch.arange(8.0) ** 2 / 49).expand(1, 3, 8, 8)
    down = resize(x, (6, 6), 0.75)
    official = [0.00081, 0.04698, 0.16169, 0.35626, 0.61986, 0.95792]
    assert torch.allclose(down[0, 0], torch.tensor(official).expand(6, 6), atol=1e-5)
    y = (torch.arange(6.0) ** 2 / 25).expand(1, 3, 6, 6)
    up = resize(y, (8, 8), 1 / 0.75)
    official = [-0.00219, 0.01738, 0.07563, 0.18062, 0.33062, 0.52562, 0.78496, 1.01969]
    assert torch.allclose(up[0, 0], torch.tensor(official).expand(8, 8), atol=1e-5)
    flat = resize(torch.full((1, 1, 17, 23), 0.3), (13, 18), 0.75)
    assert torch.allclose(flat, torch.full_like(flat, 0.3))


def test_gaussian_fold_weights_are_the_official_ones():
    w = _fold_weights(7, 3, "gaussian", torch.zeros(1)).view(3, 7, 7)
    assert w.shape == (3, 7, 7) and float(w[0, 3, 3]) == 1.0
    assert abs(float(w[2, 0, 0]) - float(np.exp(-(1 / 1.7) ** 2))) < 1e-6
    assert bool((_fold_weights(7, 1, "mean", torch.zeros(1)) == 1).all())


def test_presets_set_depth_resizing_and_fold():
    official, default = GPNN(preset="official"), GPNN()
    assert len(official.levels(96, 96)) == 10 and official.levels(96, 96)[-1] == (8, 8)
    assert default.levels(96, 96)[-1] == (18, 18)
    assert (official.resizer, official.fold) == (default.resizer, default.fold) \
        == ("cubic", "gaussian")
    assert GPNN(preset="official", min_coarse=16).params() == default.params()
    previous = GPNN(resizer="bilinear", fold="mean").params()
    assert (previous["resizer"], previous["fold"]) == ("bilinear", "mean")
    built = build_generator("gpnn", preset="official")
    assert built.params() == official.params()


@pytest.mark.parametrize(("options", "message"), [
    ({"preset": "fast"}, "preset='fast' is unknown; valid presets: synthcl, official"),
    ({"resizer": "lanczos"}, "resizer='lanczos' is unknown; valid: cubic, bilinear"),
    ({"fold": "median"}, "fold='median' is unknown; valid: gaussian, mean"),
])
def test_unknown_preset_resizer_or_fold_is_an_error(options, message):
    with pytest.raises(SynthclError, match=message.replace("(", r"\(")):
        GPNN(**options)
