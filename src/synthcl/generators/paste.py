"""Tiling on the CPU with one compiled loop: every output pixel is read once and written once.

:func:`paste_tiles` writes the part of the tiled images that a generator keeps straight into its
output: rows of untransposed tiles are contiguous runs (forward, or reversed for a horizontal
flip) that the compiler vectorises; rows of transposed tiles are columns of the source window.
No staging buffer, no 180-degree copy, no second crop pass, so the call costs little more than
the page faults of a fresh output (the torch path of :mod:`synthcl.generators.grid` made 4-5
passes over memory). Compiled by numba on first use and cached on disk; the GIL is released, so
a prefetch thread generates while the training step runs.

Indices are unsigned on purpose: numba wraps negative signed indices around, a branch that
stopped LLVM from vectorising the row copies (4x slower).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from synthcl.generators.grid import Tiles
from synthcl.generators.rigid import FLIP_H, FLIP_V, TRANSPOSE
from synthcl.utils.signals import deferred

_U = np.uint64


def compiled_for(images: torch.Tensor) -> bool:
    """Whether the generators tile ``images`` here (CPU) or with torch ops (other devices)."""
    return images.device.type == "cpu"


def paste_tiles(images: torch.Tensor, tiles: Tiles, origin_y: torch.Tensor,
                origin_x: torch.Tensor, out: torch.Tensor, top: int, left: int,
                height: int, width: int) -> None:
    """``out[b, :, top + r, left + s] = tiled[b, :, origin_y[b] + r, origin_x[b] + s]`` for
    r < ``height``, s < ``width``: the tiled image of image b (tile k at tile row k // cols) cut at
    (origin_y[b], origin_x[b]). ``images`` and ``out`` are CPU uint8 (B, C, H, W), ``out``
    contiguous; pixels of ``out`` outside that region are left as they are."""
    b, c, h, w = images.shape
    source = images.contiguous().numpy().reshape(-1)
    ints = [t.to(torch.int64).contiguous().numpy() for t in
            (tiles.y, tiles.x, tiles.codes, origin_y, origin_x)]
    with deferred():        # the first call compiles, through callbacks that drop exceptions
        _paste(source, out.numpy().reshape(-1), b, c, h, w, out.shape[2], out.shape[3], *ints,
               tiles.ph, tiles.pw, tiles.cols, top, left, height, width)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _paste(src, out, batch, channels, h, w, out_h, out_w, ys, xs, codes, origin_y, origin_x,
           ph, pw, cols, top, left, height, width):   # pragma: no cover (compiled)
    for b in range(batch):
        r0, c0 = origin_y[b], origin_x[b]
        for tr in range(r0 // ph, (r0 + height - 1) // ph + 1):          # tile rows cut
            i0, i1 = max(tr * ph, r0) - tr * ph, min((tr + 1) * ph, r0 + height) - tr * ph
            for tc in range(c0 // pw, (c0 + width - 1) // pw + 1):      # tile columns cut
                j0, j1 = max(tc * pw, c0) - tc * pw, min((tc + 1) * pw, c0 + width) - tc * pw
                k = tr * cols + tc
                y, x, code = ys[b, k], xs[b, k], codes[b, k]
                for c in range(channels):
                    plane = (b * channels + c) * h * w
                    out_plane = (b * channels + c) * out_h * out_w
                    for i in range(i0, i1):
                        # row i of the tile is row (or column, if transposed) a of the window,
                        # read forward, or backward after a horizontal flip
                        a = ph - 1 - i if code & FLIP_V else i
                        o = _U(out_plane + (top + tr * ph + i - r0) * out_w
                               + left + tc * pw - c0)
                        if code & TRANSPOSE:
                            first, step = _U(plane + y * w + x + a), _U(w)
                        else:
                            first, step = _U(plane + (y + a) * w + x), _U(1)
                        if code & FLIP_H:
                            last = first + _U(pw - 1) * step
                            for j in range(j0, j1):
                                out[o + _U(j)] = src[last - _U(j) * step]
                        elif step == 1:
                            for j in range(j0, j1):
                                out[o + _U(j)] = src[first + _U(j)]
                        else:
                            for j in range(j0, j1):
                                out[o + _U(j)] = src[first + _U(j) * step]
