"""Patch grids shared by PatchShuffle and RandomCrop: patch size, D checks, assembling tiles."""

from __future__ import annotations

import torch

from synthcl.errors import SynthclError
from synthcl.generators.rigid import NON_SQUARE_CODES, SQUARE_CODES, transform


def check_divisions(d: object, name: str) -> int:
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise SynthclError(f"{name}: D={d!r} must be a positive integer (divisions per side), "
                           f"e.g. --d 4")
    return d


def patch_size(d: int, height: int, width: int, name: str) -> tuple[int, int]:
    """(H // D, W // D), or ``SynthclError`` when D exceeds the shorter side."""
    if d > min(height, width):
        raise SynthclError(
            f"{name}: D={d} is too large for {height}x{width} images (patches of "
            f"{height // d}x{width // d} pixels); choose D <= {min(height, width)}")
    return height // d, width // d


def assemble(windows: torch.Tensor, src_y: torch.Tensor, src_x: torch.Tensor,
             codes: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Tile transformed windows into images (B, C, rows*ph, cols*pw).

    ``windows`` is a (B, C, Y, X, ph, pw) view of candidate windows (an ``unfold`` of the batch);
    tile k of image b (row k // cols, column k % cols) is window (src_y[b, k], src_x[b, k])
    transformed by ``codes[b, k]``. The loop runs over the 8 (or 4) transform codes, never over
    patches: each code's tiles are gathered, transformed and written in one indexed copy.
    """
    b, c, _, _, ph, pw = windows.shape
    out = torch.empty((b, c, rows * ph, cols * pw), dtype=windows.dtype, device=windows.device)
    slots = out.view(b, c, rows, ph, cols, pw).permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, ..)
    for code in SQUARE_CODES if ph == pw else NON_SQUARE_CODES:
        image, k = (codes == code).nonzero(as_tuple=True)
        if image.numel():
            picked = windows[image, :, src_y[image, k], src_x[image, k]]   # (n, C, ph, pw)
            slots[image, k // cols, k % cols] = transform(picked, code)
    return out
