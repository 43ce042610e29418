import pytest
import torch

from synthcl.errors import SynthclError
from synthcl.finetune.augment import MODALITY_PRESETS, resolve_augmentation


def _dihedral(image):
    """The 8 rotations/reflections of a (C, H, W) image."""
    out = []
    for k in range(4):
        rotated = torch.rot90(image, k, (-2, -1))
        out += [rotated, rotated.flip(-1)]
    return out


def _images(b=64, c=1, h=6, w=6):
    return torch.randint(0, 256, (b, c, h, w), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))


def test_dihedral_gives_each_image_its_own_rotation_or_reflection():
    images = _images()
    out = resolve_augmentation("dihedral")(images, torch.Generator().manual_seed(1))
    assert out.dtype == torch.uint8 and out.shape == images.shape
    seen = set()
    for src, aug in zip(images, out, strict=True):
        matches = [i for i, t in enumerate(_dihedral(src)) if torch.equal(t, aug)]
        assert matches, "output is not a rotation/reflection of its source"
        seen.add(matches[0])
    assert len(seen) == 8  # per-image parameters, every element of the group drawn


def test_same_generator_seed_same_batch_and_rectangles_keep_their_shape():
    images = _images(16, 3, 4, 7)
    aug = resolve_augmentation("dihedral")
    a = aug(images, torch.Generator().manual_seed(5))
    b = aug(images, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.shape == images.shape
    for src, out in zip(images, a, strict=True):
        assert any(torch.equal(out, t) for t in (src, src.flip(-1), src.flip(-2),
                                                 src.flip(-1).flip(-2)))


def test_shift_moves_whole_pixels_and_repeats_the_border():
    row = torch.arange(16, dtype=torch.uint8).view(1, 1, 1, 16).expand(32, 1, 16, 16)
    out = resolve_augmentation("shift")(row.contiguous(), torch.Generator().manual_seed(0))
    offsets = set()
    for image in out:
        first = image[0, 0]
        assert torch.equal(image[0], first.expand(16, 16))  # rows untouched by a horizontal shift
        diffs = first[1:].int() - first[:-1].int()
        assert set(diffs.tolist()) <= {0, 1}              # a clamped translation of 0..15
        offsets.add(int(first[8]) - 8)
    assert max(abs(o) for o in offsets) <= 2 and len(offsets) > 1  # up to 1/8 of 16 pixels


def test_presets_follow_the_modality_and_can_be_overridden():
    assert resolve_augmentation("auto", "histology").ops == ("hflip", "vflip", "rot90")
    assert resolve_augmentation("auto", "xray").ops == ()
    assert resolve_augmentation("auto", "thermal").ops == ("hflip", "shift")
    assert resolve_augmentation("auto", "something-new").ops == ("hflip",)
    assert set(MODALITY_PRESETS) >= {"histology", "wafer", "thermal", "retina", "xray",
                                     "microscopy", "electroluminescence", "unknown"}
    assert resolve_augmentation("vflip+shift", "histology").ops == ("vflip", "shift")
    images = _images(4)
    assert torch.equal(resolve_augmentation("none")(images, torch.Generator()), images)
    with pytest.raises(SynthclError, match="hflip"):
        resolve_augmentation("flip+zoom")
