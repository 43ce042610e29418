"""Image resizing as in ResizeRight (A. Shocher, MIT licence), the resizer of the official GPNN
code, re-implemented as two matrix products.

Its defaults, which the official GPNN uses: a cubic kernel (Keys, a = -0.5) evaluated at the
distances between input and output pixel centres; when downscaling by ``scale`` < 1 the kernel is
stretched by 1 / scale (antialiasing); each output pixel's weights are normalised to sum to 1;
borders are mirrored (x[-1] = x[0]); and the output grid is centred on the input grid when the
output length differs from ``in_length * scale`` (e.g. ceil(96 * 0.75^2) = 54 for 96 * 0.5625).
One (out, in) matrix per axis, cached per (in, out, scale).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

KERNEL_WIDTH = 6.0          # ResizeRight's default support (wider than the cubic's 4: zeros)


def resize(images: torch.Tensor, size: tuple[int, int] | torch.Size,
           scale: float) -> torch.Tensor:
    """Images (..., H, W) resized to ``size`` with the nominal ``scale`` (both axes)."""
    rows = _weights(images.shape[-2], int(size[0]), scale).to(images)
    cols = _weights(images.shape[-1], int(size[1]), scale).to(images)
    return rows @ images @ cols.T


@functools.lru_cache(maxsize=256)
def _weights(in_length: int, out_length: int, scale: float) -> torch.Tensor:
    """(out_length, in_length) interpolation matrix of one axis."""
    stretch = min(scale, 1.0)                                    # antialiasing when < 1
    width = KERNEL_WIDTH / stretch
    out = np.arange(1, out_length + 1) - (out_length - in_length * scale) / 2
    centre = out / scale + 0.5 * (1 - 1 / scale)                 # in input pixel units
    first = np.floor(centre - width / 2)
    taps = first[:, None] + np.arange(math.ceil(width) + 2) - 1  # input pixels seen (0-based)
    weights = stretch * _cubic(stretch * (centre[:, None] - taps - 1))
    total = weights.sum(1, keepdims=True)
    weights = weights / np.where(total == 0, 1.0, total)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    source = mirror[np.mod(taps.astype(np.int64), 2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.arange(out_length)[:, None].repeat(taps.shape[1], 1), source), weights)
    return torch.from_numpy(matrix).float()


def _cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return ((1.5 * a ** 3 - 2.5 * a ** 2 + 1) * (a <= 1)
            + (-0.5 * a ** 3 + 2.5 * a ** 2 - 4 * a + 2) * ((1 < a) & (a <= 2)))
