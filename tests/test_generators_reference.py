"""PatchShuffle, RandomCrop and their Mix against plain reference implementations, byte for byte.

The references loop over images and patches in Python, straight from the paper (Sec. 3.2) and
the module docstrings: rotations by 0/90/180/270 degrees and an optional horizontal flip
(``torch.rot90`` and ``flip``, as listed in ``synthcl.generators.rigid``), the centred grid and
untouched border of PatchShuffle, and RandomCrop's tile grid (at least (D+1) x (D+1) tiles, the
fewest that cover the image) cropped at (crop_y, crop_x). The generators get the same draws.
"""

from __future__ import annotations

import math

import pytest
import torch

import synthcl.generators.paste as paste
from synthcl.generators import Mix, PatchShuffle, RandomCrop

# code -> (quarter turns counter-clockwise, then a horizontal flip?) as synthcl.generators.rigid
# documents them
RIGID = {0: (0, False), 3: (1, False), 6: (2, False), 5: (3, False),
         4: (0, True), 7: (1, True), 2: (2, True), 1: (3, True)}

SHAPES = [(1, 28, 28, 2), (3, 28, 28, 3), (1, 28, 28, 8), (3, 24, 40, 2), (1, 24, 40, 7),
          (3, 24, 40, 3), (3, 96, 96, 4), (1, 96, 96, 8), (3, 17, 13, 4), (1, 5, 9, 5),
          (3, 32, 32, 1)]


def rigid(patch: torch.Tensor, code: int) -> torch.Tensor:
    turns, flip = RIGID[code]
    patch = torch.rot90(patch, turns, dims=(1, 2))
    return patch.flip(2) if flip else patch


def reference_patchshuffle(images: torch.Tensor, draws: dict, d: int) -> torch.Tensor:
    """Slot k (row k // D, column k % D) of the centred grid gets patch perm[k], transformed."""
    _, _, h, w = images.shape
    ph, pw = h // d, w // d
    top, left = (h - d * ph) // 2, (w - d * pw) // 2
    out = images.clone()
    for b in range(images.shape[0]):
        for k in range(d * d):
            source, code = int(draws["perm"][b, k]), int(draws["transform"][b, k])
            y, x = top + source // d * ph, left + source % d * pw
            patch = rigid(images[b, :, y:y + ph, x:x + pw], code)
            y, x = top + k // d * ph, left + k % d * pw
            out[b, :, y:y + ph, x:x + pw] = patch
    return out


def reference_randomcrop(images: torch.Tensor, draws: dict, d: int) -> torch.Tensor:
    """Tile k (row k // cols) is the window at (y[k], x[k]), transformed; then the H x W crop."""
    _, c, h, w = images.shape
    ph, pw = h // d, w // d
    rows, cols = max(d + 1, math.ceil(h / ph)), max(d + 1, math.ceil(w / pw))
    out = torch.empty_like(images)
    for b in range(images.shape[0]):
        tiled = images.new_zeros((c, rows * ph, cols * pw))
        for k in range(rows * cols):
            y, x, code = (int(draws[key][b, k]) for key in ("y", "x", "transform"))
            tile = rigid(images[b, :, y:y + ph, x:x + pw], code)
            tiled[:, k // cols * ph:(k // cols + 1) * ph, k % cols * pw:(k % cols + 1) * pw] = tile
        y, x = int(draws["crop_y"][b]), int(draws["crop_x"][b])
        out[b] = tiled[:, y:y + h, x:x + w]
    return out


REFERENCES = {"patchshuffle": reference_patchshuffle, "randomcrop": reference_randomcrop}


def source(batch: int, channels: int, h: int, w: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 256, (batch, channels, h, w), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


@pytest.fixture(params=["compiled", "torch"])
def path(request, monkeypatch):
    """Run a test on the CPU's compiled tiling and again on the torch ops other devices use."""
    if request.param == "torch":
        monkeypatch.setattr(paste, "compiled_for", lambda images: False)
    return request.param


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "{}x{}x{}-D{}".format(*s))
@pytest.mark.parametrize("cls", [PatchShuffle, RandomCrop], ids=lambda c: c.name)
def test_generator_matches_the_reference(cls, shape, channels, path):
    batch, h, w, d = shape
    images = source(batch, channels, h, w, seed=h * w + d)
    gen = cls(d)
    draws = gen.draw(batch, channels, h, w, torch.Generator().manual_seed(d))
    out = gen.apply(images, draws)
    assert out.dtype == torch.uint8 and out.is_contiguous()
    assert torch.equal(out, REFERENCES[cls.name](images, draws, d))


@pytest.mark.parametrize("cls", [PatchShuffle, RandomCrop], ids=lambda c: c.name)
def test_non_contiguous_input(cls, path):
    images = source(4, 3, 30, 30, seed=3)[:, :, 1:-1, 2:]      # a strided view, 28 x 28
    gen = cls(3)
    draws = gen.draw(4, 3, 28, 28, torch.Generator().manual_seed(4))
    assert torch.equal(gen.apply(images, draws), REFERENCES[cls.name](images, draws, 3))


def test_mix_matches_the_references_image_by_image(path):
    images = source(12, 3, 20, 20, seed=9)
    mix = Mix([PatchShuffle(2), RandomCrop(4)])
    draws = mix.draw(12, 3, 20, 20, torch.Generator().manual_seed(1))
    out = mix.apply(images, draws)
    for b in range(12):
        k = int(draws["choice"][b])
        sub = {key[2:]: value[b:b + 1] for key, value in draws.items() if key[:2] == f"{k}."}
        name, d = ("patchshuffle", 2) if k == 0 else ("randomcrop", 4)
        assert torch.equal(out[b:b + 1], REFERENCES[name](images[b:b + 1], sub, d)), b


@pytest.mark.parametrize("cls", [PatchShuffle, RandomCrop], ids=lambda c: c.name)
def test_empty_batch(cls, path):
    out = cls(4)(source(0, 3, 20, 18, seed=0), torch.Generator().manual_seed(0))
    assert out.shape == (0, 3, 20, 18) and out.dtype == torch.uint8
