"""GPNN: exact nearest neighbours, the pyramid rule, reuse of neighbours and the fixed-point stop,
the official resizer and fold, the presets, real-image behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import cuda, shared_path
from synthcl.errors import SynthclError
from synthcl.generators import build_generator
from synthcl.generators import gpnn as gpnn_module
from synthcl.generators.gpnn import GPNN, _fold, _fold_weights, _patches, _patches_at
from synthcl.generators.nearest import Keys, nearest
from synthcl.generators.resize import resize


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 60), p=st.integers(1, 400), d=st.integers(1, 20),
       tile=st.sampled_from([1, 200, 1 << 20]), seed=st.integers(0, 1000))
@example(n=27, p=303, d=1, tile=1, seed=0)              # near-ties in one dimension
@example(n=9, p=46, d=1, tile=1, seed=313)
def test_nearest_matches_brute_force(n, p, d, tile, seed):
    g = torch.Generator().manual_seed(seed)
    queries, keys = torch.rand(n, d, generator=g), torch.rand(p, d, generator=g)
    full = torch.cdist(queries.double(), keys.double()).square()
    found = nearest(queries, Keys(keys), second=True, tile_elements=tile)
    best = full.min(1)
    assert_nearest(found.index, full)
    assert torch.allclose(found.dist.double(), best.values, atol=1e-4)
    if p > 1:
        assert torch.allclose(found.second.double(), full.topk(2, 1, largest=False).values[:, 1],
                              atol=1e-4)
    else:
        assert bool(torch.isinf(found.second).all())
    weights = torch.rand(p, generator=g) + 0.5
    weighted = nearest(queries, keys, weights=weights, tile_elements=tile)
    assert_nearest(weighted.index, full * weights.double())


def assert_nearest(index: torch.Tensor, distances: torch.Tensor) -> None:
    """``index`` picks a key at the minimal (float64) distance, or one tied with it within
    float32 rounding of squared distances (1e-5 of their scale)."""
    chosen = distances.gather(1, index[:, None])[:, 0]
    best = distances.min(1).values
    assert bool((chosen <= best + 1e-5 * (1 + distances.max(1).values)).all())


def test_pyramid_levels_follow_the_documented_rule():
    gen = GPNN()
    assert gen.min_coarse == 16
    assert gen.levels(28, 28) == [(28, 28), (21, 21), (16, 16)]
    big = gen.levels(224, 224)
    assert len(big) == 10 and big[-1] == (17, 17)           # official: 9 downscalings
    assert gen.levels(96, 96)[-1] == (18, 18)
    assert gen.levels(250, 190)[1] == (188, 143)
    assert gen.levels(12, 12) == [(12, 12)]                 # below min_coarse: one level
    assert GPNN(min_coarse=7).levels(28, 28)[-1] == (7, 7)  # the official-like depth
    with pytest.raises(SynthclError, match="smaller than its 7x7 patches"):
        gen(torch.zeros(1, 1, 6, 20, dtype=torch.uint8), torch.Generator())


def _full_search_every_iteration(monkeypatch):
    def refresh(self, images, p, motion, keys, track):
        fresh = gpnn_module._Bounds.search(gpnn_module._patches(images, p), keys, track)
        self.index, self.near, self.far = fresh.index, fresh.near, fresh.far

    monkeypatch.setattr(gpnn_module._Bounds, "refresh", refresh)


def test_reused_neighbours_give_the_same_images_as_full_searches(monkeypatch):
    z = torch.linspace(0, 6, 40)
    smooth = (torch.sin(z[:, None] * 1.3) * torch.cos(z[None, :] * 0.7) + 1) * 120
    src = torch.stack([smooth, smooth.T, smooth.flip(0)]).to(torch.uint8)[None]
    src = src.expand(3, -1, -1, -1).contiguous()
    gen = GPNN()
    draws = gen.draw(3, 3, 40, 40, torch.Generator().manual_seed(0))
    reused = gen.apply(src, draws)
    _full_search_every_iteration(monkeypatch)
    assert torch.equal(reused, gen.apply(src, draws))


@pytest.fixture(scope="module")
def pcam_test_image() -> torch.Tensor:
    path = shared_path("pcam", "test", "1", "patch0000001.jpg")
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None]


def test_reuse_and_fixed_point_stop_equal_the_plain_loop_on_pcam(pcam_test_image, monkeypatch):
    """Reused neighbours and stopping at a fixed point change nothing: the same bytes as a full
    search at every one of the 10 iterations."""
    source = pcam_test_image[:, :, :40, :40].expand(2, -1, -1, -1).contiguous()
    gen = GPNN()
    draws = gen.draw(2, 3, 40, 40, torch.Generator().manual_seed(0))
    fast = gen.apply(source, draws)
    _full_search_every_iteration(monkeypatch)
    monkeypatch.setattr(gpnn_module, "_repeats", lambda index, last: False)
    assert torch.equal(fast, gen.apply(source, draws))


@pytest.mark.parametrize("m", [1, 3])
def test_patches_and_fold_give_the_bytes_of_unfold_and_fold(m):
    """The strided patch copy and gather equal F.unfold's rows; the fold of gathered columns
    equals F.fold of the same patches, bit for bit."""
    g = torch.Generator().manual_seed(m)
    images = torch.rand(m, 3, 23, 17, generator=g).transpose(2, 3).contiguous().transpose(2, 3)
    cols = F.unfold(images, 7)
    rows = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    assert torch.equal(_patches(images, 7), rows)
    positions = torch.randperm(len(rows), generator=g)[:50]
    assert torch.equal(_patches_at(images, 7, positions), rows[positions])
    values = torch.randn(3 * 49, 40, generator=g)
    index = torch.randint(0, 40, (len(rows),), generator=g)
    plain = F.fold(values.T[index].view(m, -1, 3 * 49).transpose(1, 2), images.shape[2:], 7)
    assert torch.equal(_fold(values.index_select(1, index), images.shape, 7), plain)


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


def test_outputs_of_one_source_do_not_depend_on_the_rest_of_the_batch():
    g = torch.Generator().manual_seed(3)
    a, b = (torch.randint(0, 256, (1, 1, 20, 20), generator=g, dtype=torch.uint8)
            for _ in range(2))
    gen = GPNN(iters=3)
    draws = gen.draw(3, 1, 20, 20, g)
    together = gen.apply(torch.cat([a, b, a]), draws)
    pick = {k: v[[0, 2]] for k, v in draws.items()}
    assert torch.equal(together[[0, 2]], gen.apply(torch.cat([a, a]), pick))
    assert torch.equal(together[1:2], gen.apply(b, {k: v[1:2] for k, v in draws.items()}))


def test_alpha_normalisation_changes_the_choice():
    src = torch.randint(0, 256, (2, 3, 20, 20), generator=torch.Generator().manual_seed(0),
                        dtype=torch.uint8)
    draws = GPNN().draw(2, 3, 20, 20, torch.Generator().manual_seed(1))
    plain = GPNN(iters=2).apply(src, draws)
    complete = GPNN(iters=2, alpha=5e-3).apply(src, draws)
    assert complete.shape == plain.shape and not torch.equal(plain, complete)
    with pytest.raises(SynthclError, match="alpha"):
        GPNN(alpha=0)


def _nearest_source_patch_rms(source: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """RMS pixel distance (0-255) of every 7x7 patch of ``images`` to its nearest in ``source``."""
    keys = F.unfold(source.float(), 7)[0].T
    queries = F.unfold(images.float(), 7).transpose(1, 2).reshape(-1, keys.shape[1])
    return (nearest(queries, keys).dist / keys.shape[1]).sqrt()


def test_28x28_outputs_differ_from_the_source(pneumonia_npz):
    with np.load(pneumonia_npz) as z:
        src = torch.from_numpy(z["train_images"][:4])[:, None]
    out = GPNN()(src.repeat_interleave(4, 0), torch.Generator().manual_seed(0))
    diff = (out.float() - src.repeat_interleave(4, 0).float()).abs().flatten(1).mean(1)
    assert float(diff.min()) > 2 and float(diff.median()) > 8, diff
    official_depth = GPNN(min_coarse=7)(src, torch.Generator().manual_seed(0))   # 7 px coarsest
    assert float((official_depth.float() - src.float()).abs().mean()) < 1


@pytest.fixture(scope="module")
def pcam_outputs():
    files = sorted(shared_path("pcam", "train", "1").glob("*.jpg"))
    if len(files) < 2:
        pytest.skip("no PCam training images")
    load = [torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1)[None]
            for f in files[1:3]]
    source, other = load
    out = GPNN()(source, torch.Generator().manual_seed(0))
    return source, other, out


def test_gpnn_on_pcam_makes_new_images(pcam_outputs):
    source, _, out = pcam_outputs
    assert out.shape == (1, 3, 96, 96)
    diff = (out.float() - source.float()).abs().mean()
    assert float(diff) > 10, diff                           # far from a copy (0 would be one)


def test_gpnn_on_pcam_is_made_of_source_patches(pcam_outputs):
    """Most 7x7 output patches have a close source patch.

    "Close" is judged against a baseline measured the same way: the patches of another PCam
    image of the same class. Its median distance to the nearest source patch (~35-45 grey levels
    RMS) is what "not made of the source's patches" looks like; GPNN output patches must mostly
    lie far below it: median < 12 grey levels (under 5% of the range, i.e. the averaging of
    overlapping patches only), and 75% of them closer than a third of the baseline median.
    """
    source, other, out = pcam_outputs
    ours = _nearest_source_patch_rms(source, out)
    baseline = _nearest_source_patch_rms(source, other).median()
    assert float(ours.median()) < 12, float(ours.median())
    assert float((ours < baseline / 3).float().mean()) > 0.75, float(baseline)


@pytest.mark.cuda
@cuda
def test_gpnn_runs_on_cuda_like_on_cpu():
    """CUDA and CPU agree up to float rounding, which can flip near-tied neighbours and so change
    whole regions: compare what must hold on both, not bytes."""
    src = torch.randint(0, 256, (1, 3, 32, 32), generator=torch.Generator().manual_seed(0),
                        dtype=torch.uint8).expand(2, -1, -1, -1).contiguous()
    gen = GPNN(iters=3)
    draws = gen.draw(2, 3, 32, 32, torch.Generator().manual_seed(1))
    on_gpu = gen.apply(src.cuda(), draws)
    assert on_gpu.is_cuda and on_gpu.shape == src.shape and on_gpu.dtype == torch.uint8
    on_cpu = gen.apply(src, draws)
    assert abs(float(on_gpu.float().mean()) - float(on_cpu.float().mean())) < 10
    assert not torch.equal(on_gpu.cpu(), src)
