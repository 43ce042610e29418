"""Rigid transforms of patches: the dihedral group of the square.

A transform is a code in 0..7 made of three bits applied in this order:
bit 0 (1) transposes the patch (swap rows and columns), bit 1 (2) flips it vertically,
bit 2 (4) flips it horizontally. The eight codes are exactly the 4 rotations x optional
horizontal flip of the paper: 0 identity, 3 rotate 90 deg counter-clockwise, 6 rotate 180 deg,
5 rotate 90 deg clockwise, and 4, 7, 2, 1 the same four rotations followed by a horizontal flip.

A transpose changes the shape of a non-square patch, so non-square patches only get the four
shape-preserving codes {0, 2, 4, 6}: identity, vertical flip, horizontal flip, 180 deg rotation.

Row by row, every transformed patch is one of four arrays read in forward or reversed row order
(:func:`row_source`), which lets the generators copy whole rows instead of single pixels.
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


def row_source(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(transposed, rotated, reversed): where the rows of patches transformed by ``codes`` are.

    Patch P transformed by a code is X with its rows in forward order, or in reversed order where
    ``reversed``, and X is P, or P rotated by 180 deg (R) where ``rotated``, transposed (T) where
    ``transposed``. This holds because a horizontal flip is R followed by a vertical flip, and R
    commutes with both flips and with T: H V^v T^t P = V^(v+1) T^t R P.
    """
    flip_v, flip_h = (codes & FLIP_V) != 0, (codes & FLIP_H) != 0
    return (codes & TRANSPOSE) != 0, flip_h, flip_v ^ flip_h
