"""Patch grids shared by PatchShuffle and RandomCrop: patch size, D checks and tiling.

Tiling with torch ops (:func:`tile_rows`, the path of non-CPU devices; the CPU's is
:mod:`synthcl.generators.paste`) copies rigidly transformed windows of the source images into a
grid of tiles one pixel row at a time. By :func:`synthcl.generators.rigid.row_source`, each row
of a transformed window is a row of the window, of the same window of the image rotated by 180
deg, or of the transpose of either, taken in forward or reversed row order. A staging buffer
holds the images, the images rotated by 180 deg (one flip of each plane) and the transposed
windows (one strided copy each); a single ``index_select`` over the view of all its runs of
``pw`` bytes then copies every output row with one ``memcpy``. No Python loop over patches and
no per-pixel indices: the index has one entry per row of a tile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from synthcl.errors import SynthclError
from synthcl.generators.base import SyntheticGenerator
from synthcl.generators.rigid import row_source


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


class PatchGenerator(SyntheticGenerator):
    """A generator of D x D patch grids (PatchShuffle, RandomCrop): ``d`` is its one parameter."""

    def __init__(self, d: int = 4) -> None:
        self.d = check_divisions(d, self.name)

    def params(self) -> dict[str, Any]:
        return {"d": self.d}

    def check_size(self, height: int, width: int) -> None:
        patch_size(self.d, height, width, self.name)


@dataclass(frozen=True)
class Tiles:
    """Tile k of image b (tile row k // cols, column k % cols) is the ph x pw window of the image
    at row ``y[b, k]``, column ``x[b, k]``, transformed by ``codes[b, k]`` (all (B, K) int64)."""

    y: torch.Tensor
    x: torch.Tensor
    codes: torch.Tensor
    ph: int
    pw: int
    cols: int


def windows(flat: torch.Tensor, shape: tuple[int, ...], strides: tuple[int, ...]) -> torch.Tensor:
    """View of every window of ``shape`` and ``strides`` in the 1-D ``flat``, by first element."""
    extent = sum((size - 1) * stride for size, stride in zip(shape, strides, strict=True))
    return flat.as_strided((flat.numel() - extent, *shape), (1, *strides))


def tile_rows(images: torch.Tensor, tiles: Tiles, kept: torch.Tensor | None = None,
              out: torch.Tensor | None = None) -> torch.Tensor:
    """Pixel rows of the tiled images (B, C, R, cols*pw), in ``out`` when given (contiguous).

    The tiled image of image b (of ``images``, (B, C, H, W)) has K // cols tile rows of ph pixel
    rows each; ``kept`` (B, R) int64 picks the R pixel rows wanted (default: all of them).
    """
    batch, c = images.shape[:2]
    if out is None:
        height = tiles.codes.shape[1] // tiles.cols * tiles.ph if kept is None else kept.shape[1]
        out = images.new_empty((batch, c, height, tiles.cols * tiles.pw))
    if batch:
        _Stage(images, tiles).copy_rows(kept, out)
    return out


class _Stage:
    """The staging buffer (C, L) of the images and where each tile's rows are in it.

    Channel c of the buffer holds channel c of [the images | the same rotated by 180 deg | the
    transposed windows]; ``first`` (B, K) is the offset of the first row of each tile's output in
    channel 0 and ``step`` (B, K) the offset from one of its rows to the next (negative: rows in
    reverse).
    """

    def __init__(self, images: torch.Tensor, tiles: Tiles) -> None:
        batch, c, h, w = images.shape
        ph, pw, plane = tiles.ph, tiles.pw, h * w
        transposed, rotated, reversed_ = row_source(tiles.codes)
        image = torch.arange(batch, device=images.device).unsqueeze(1) * plane
        origin = torch.where(rotated, batch * plane + image + (h - ph - tiles.y) * w + w - pw
                             - tiles.x, image + tiles.y * w + tiles.x)
        rank = transposed.view(-1).cumsum(0).view_as(transposed) - 1
        count = int(transposed.sum())
        self.buffer = images.new_empty((c, 2 * batch * plane + count * ph * pw))
        length = self.buffer.shape[1]
        planes = images.reshape(batch, c, plane).transpose(0, 1)
        self.buffer[:, :batch * plane].view(c, batch, plane).copy_(planes)
        self.buffer[:, batch * plane:2 * batch * plane].view(c, batch, plane).copy_(
            planes.flip(2))
        if count:                        # only square patches are ever transposed
            # every transposed window of the first two parts, as a view that ends before the
            # third part, where they are copied to
            sources = self.buffer.view(-1)[:(c - 1) * length + 2 * batch * plane]
            target = self.buffer[:, 2 * batch * plane:].view(c, count, ph, pw).transpose(0, 1)
            torch.index_select(windows(sources, (c, ph, pw), (length, 1, w)), 0,
                               origin[transposed], out=target)
        dtype = torch.int32 if self.buffer.numel() < 2 ** 31 else torch.int64
        origin = torch.where(transposed, 2 * batch * plane + rank * (ph * pw), origin)
        row = torch.where(transposed, pw, w)
        self.first = torch.where(reversed_, origin + (ph - 1) * row, origin).to(dtype)
        self.step = torch.where(reversed_, -row, row).to(dtype)
        self.tiles = tiles
        self.rows = torch.arange(ph, dtype=dtype, device=images.device).view(1, 1, ph, 1)
        self.channels = torch.arange(c, dtype=dtype, device=images.device).view(1, c, 1, 1) * length

    def copy_rows(self, kept: torch.Tensor | None, out: torch.Tensor) -> None:
        """Copy the rows of the tiled images to ``out`` (B, C, R, cols*pw)."""
        batch, cols = out.shape[0], self.tiles.cols
        shape = (batch, -1, 1, cols)                    # (image, tile row, pixel row, column)
        starts = torch.addcmul(self.first.view(shape), self.step.view(shape),
                               self.rows).view(batch, -1, cols)
        if kept is not None:
            starts = starts.gather(1, kept.unsqueeze(-1).expand(-1, -1, cols))
        index = starts.unsqueeze(1) + self.channels
        runs = windows(self.buffer.view(-1), (self.tiles.pw,), (1,))
        torch.index_select(runs, 0, index.view(-1), out=out.view(-1, self.tiles.pw))
