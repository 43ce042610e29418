"""f_CL on tensors: per-image parameters, agreement with torchvision's single-image operations."""

import math

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from synthcl.pretraining.augment import (
    Augment,
    adjust,
    color_jitter,
    gaussian_blur,
    kernel_side,
    resized_crop,
)


def rgb(batch=4, size=12, seed=0):
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_parameters_are_drawn_per_image():
    params = Augment((16, 16)).draw(64, 16, 16, torch.Generator().manual_seed(0))
    assert len(torch.unique(params["box"], dim=0)) == 64
    assert len(torch.unique(params["factors"], dim=0)) == 64
    for flag in ("flip", "jitter_on", "gray"):
        assert 0 < int(params[flag].sum()) < 64
    assert len(torch.unique(params["order"], dim=0)) > 1


def test_copies_of_one_image_get_different_views():
    image = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(1))
    views = Augment((16, 16))(image.expand(16, -1, -1, -1), torch.Generator().manual_seed(2))
    flat = views.flatten(1)
    distinct = torch.cdist(flat, flat) + torch.eye(16)
    assert float(distinct.min()) > 1e-3


def test_rates_and_ranges_follow_moco_v2():
    n = 20_000
    params = Augment((32, 32)).draw(n, 32, 32, torch.Generator().manual_seed(0))
    for key, rate in (("flip", 0.5), ("jitter_on", 0.8), ("gray", 0.2)):
        assert abs(params[key].float().mean() - rate) < 0.02
    assert abs((params["sigma"] > 0).float().mean() - 0.5) < 0.02
    sigma = params["sigma"][params["sigma"] > 0]
    assert 0.1 <= float(sigma.min()) and float(sigma.max()) <= 2.0
    x0, y0, w, h = params["box"].unbind(1)
    area = w * h / (32 * 32)
    assert float(area.min()) >= 0.2 - 1e-6 and float(area.max()) <= 1 + 1e-6
    assert float((w / h).min()) >= 3 / 4 - 1e-6 and float((w / h).max()) <= 4 / 3 + 1e-6
    assert float(x0.min()) >= 0 and float((x0 + w).max()) <= 32 + 1e-4
    f = params["factors"]
    assert float(f[:, :3].min()) >= 0.6 and float(f[:, :3].max()) <= 1.4
    assert float(f[:, 3].abs().max()) <= 0.1


def test_neutral_parameters_leave_the_image_unchanged():
    images = torch.randint(0, 256, (3, 3, 10, 10), dtype=torch.uint8)
    params = {"box": torch.tensor([[0.0, 0.0, 10.0, 10.0]] * 3),
              "flip": torch.zeros(3, dtype=torch.bool),
              "jitter_on": torch.zeros(3, dtype=torch.bool), "factors": torch.ones(3, 4),
              "order": torch.arange(4).repeat(3, 1), "gray": torch.zeros(3, dtype=torch.bool),
              "sigma": torch.zeros(3)}
    out = Augment((10, 10)).apply(images, params)
    assert torch.allclose(out, images.float() / 255, atol=1e-5)


def test_integer_crop_and_flip_match_torchvision():
    x = rgb(2, 12)
    box = torch.tensor([[2.0, 3.0, 6.0, 6.0], [0.0, 0.0, 12.0, 12.0]])
    flip = torch.tensor([False, True])
    out = resized_crop(x, box, flip, (6, 6))
    assert torch.allclose(out[0], x[0, :, 3:9, 2:8], atol=1e-5)
    assert torch.allclose(resized_crop(x, box, flip, (12, 12))[1], TF.horizontal_flip(x[1]),
                          atol=1e-5)


@pytest.mark.parametrize("kind,tv,factor", [
    ("brightness", TF.adjust_brightness, 1.3), ("contrast", TF.adjust_contrast, 0.7),
    ("saturation", TF.adjust_saturation, 1.35), ("hue", TF.adjust_hue, 0.08),
    ("hue", TF.adjust_hue, -0.1)])
def test_colour_operations_match_torchvision(kind, tv, factor):
    """Up to luma weights: ours are PIL's (0.299, as the reference's PIL pipeline), torchvision's
    tensor ops use 0.2989."""
    x = rgb(3, 8)
    ours = adjust(x, kind, torch.full((3,), factor))
    for i in range(3):
        assert torch.allclose(ours[i], tv(x[i], factor), atol=2e-4)


def test_jitter_follows_each_images_own_order():
    x = rgb(2, 6)
    factors = torch.tensor([[1.4, 0.6, 1.0, 0.0]] * 2)
    order = torch.tensor([[0, 1, 2, 3], [1, 0, 2, 3]])      # brightness first / contrast first
    out = color_jitter(x, torch.ones(2, dtype=torch.bool), factors, order)
    b_then_c = TF.adjust_contrast(TF.adjust_brightness(x[0], 1.4), 0.6)
    c_then_b = TF.adjust_brightness(TF.adjust_contrast(x[1], 0.6), 1.4)
    assert torch.allclose(out[0], b_then_c, atol=2e-4)
    assert torch.allclose(out[1], c_then_b, atol=2e-4)
    assert not torch.allclose(b_then_c, TF.adjust_brightness(TF.adjust_contrast(x[0], 0.6), 1.4),
                              atol=1e-2)


def test_blur_matches_torchvision_per_image_sigma():
    x = rgb(2, 20)
    side = kernel_side((20, 20))
    out = gaussian_blur(x, torch.tensor([0.7, 1.9]), side)
    for i, s in enumerate((0.7, 1.9)):
        assert torch.allclose(out[i], TF.gaussian_blur(x[i], [side, side], [s, s]), atol=1e-5)


def test_kernel_side_scales_with_the_image():
    assert kernel_side((28, 28)) == 3 and kernel_side((96, 96)) == 11
    assert kernel_side((224, 224)) == 23 and kernel_side((8, 8)) == 3


def test_grayscale_sources_stay_one_channel_and_valid():
    gray = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    out = Augment((28, 28))(gray, torch.Generator().manual_seed(0))
    assert out.shape == (8, 1, 28, 28)
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_views_are_reproducible_from_the_generator_and_resized():
    x = torch.randint(0, 256, (4, 3, 40, 30), dtype=torch.uint8)
    a = Augment((16, 16))(x, torch.Generator().manual_seed(5))
    b = Augment((16, 16))(x, torch.Generator().manual_seed(5))
    assert a.shape == (4, 3, 16, 16) and torch.equal(a, b)
    assert not math.isnan(float(a.sum()))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_views_match_cpu_views():
    x = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    aug = Augment((32, 32))
    params = aug.draw(16, 32, 32, torch.Generator().manual_seed(0))
    assert torch.allclose(aug.apply(x, params), aug.apply(x.cuda(), params).cpu(), atol=1e-4)
