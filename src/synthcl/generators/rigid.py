"""Rigid transforms of patches: the dihedral group of the square.

A transform is a code in 0..7 made of three bits applied in this order:
bit 0 (1) transposes the patch (swap rows and columns), bit 1 (2) flips it vertically,
bit 2 (4) flips it horizontally. The eight codes are exactly the 4 rotations x optional
horizontal flip of the paper: 0 identity, 3 rotate 90 deg counter-clockwise, 6 rotate 180 deg,
5 rotate 90 deg clockwise, and 4, 7, 2, 1 the same four rotations followed by a horizontal flip.

A transpose changes the shape of a non-square patch, so non-square patches only get the four
shape-preserving codes {0, 2, 4, 6}: identity, vertical flip, horizontal flip, 180 deg rotation.
"""

from __future__ import annotations

import torch

TRANSPOSE, FLIP_V, FLIP_H = 1, 2, 4
SQUARE_CODES = tuple(range(8))
NON_SQUARE_CODES = (0, FLIP_V, FLIP_H, FLIP_V | FLIP_H)


def draw_transforms(shape: tuple[int, ...], square: bool,
                    generator: torch.Generator) -> torch.Tensor:
    """Uniform random transform codes (int64, CPU): any of 8 if ``square``, else of {0, 2, 4, 6}."""
    if square:
        return torch.randint(0, 8, shape, generator=generator)
    return 2 * torch.randint(0, 4, shape, generator=generator)


def transform(patches: torch.Tensor, code: int) -> torch.Tensor:
    """Patches (..., ph, pw) all transformed by the same ``code`` (may return a view)."""
    if code & TRANSPOSE:
        patches = patches.transpose(-1, -2)
    if code & FLIP_V:
        patches = patches.flip(-2)
    if code & FLIP_H:
        patches = patches.flip(-1)
    return patches
