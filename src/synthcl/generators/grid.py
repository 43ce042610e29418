"""Patch grids shared by PatchShuffle and RandomCrop: patch size, D checks and tiling.

Tiling copies rigidly transformed windows of the source images into a grid of tiles one pixel
row at a time. By :func:`synthcl.generators.rigid.row_source`, each row of a transformed window
is a row of the window, of the same window of the image rotated by 180 deg, or of the transpose
of either, taken in forward or reversed row order. A staging buffer holds the images, the images
rotated by 180 deg (one flip of each plane) and the transposed windows (one strided copy each);
a single ``index_select`` over the view of all its runs of ``pw`` bytes then copies every output
row with one ``memcpy``. No Python loop over patches and no per-pixel indices: the index has one
entry per row of a tile. On the CPU, images go through in chunks of a few MiB so that the buffer
stays in the caches and its memory is reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthcl.errors import SynthclError
from synthcl.generators.rigid import row_source

CHUNK_BYTES = 4 << 20     # source bytes staged at once on the CPU


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

    def chunk(self, start: int, stop: int) -> Tiles:
        return Tiles(self.y[start:stop], self.x[start:stop], self.codes[start:stop], self.ph,
                     self.pw, self.cols)


def chunks(images: torch.Tensor) -> list[tuple[int, int]]:
    """(start, stop) ranges of images to stage at once: about CHUNK_BYTES each on the CPU."""
    batch = step = images.shape[0]
    if images.device.type == "cpu":
        step = CHUNK_BYTES // max(1, math.prod(images.shape[1:]))
    step = max(1, step)
    return [(start, min(start + step, batch)) for start in range(0, batch, step)]


def windows(flat: torch.Tensor, shape: tuple[int, ...], strides: tuple[int, ...]) -> torch.Tensor:
    """View of every window of ``shape`` and ``strides`` in the 1-D ``flat``, by first element."""
    extent = sum((size - 1) * stride for size, stride in zip(shape, strides, strict=True))
    return flat.as_strided((flat.numel() - extent, *shape), (1, *strides))


def tile_rows(images: torch.Tensor, tiles: Tiles, row_tile: torch.Tensor, row_in: torch.Tensor,
              out: torch.Tensor) -> None:
    """Fill ``out`` (n, C, R, cols*pw), contiguous, with rows of tiles of ``images`` (n, C, H, W).

    Output row r of image b is row ``row_in[b, r]`` of the tiles in tile row ``row_tile[b, r]``,
    side by side (both int64 of shape (n, R), or (1, R) for every image).
    """
    n, c = images.shape[:2]
    cols, pw = tiles.cols, tiles.pw
    staged, first, step, channel = _stage(images, tiles)
    tile = row_tile.expand(n, -1).unsqueeze(-1) * cols + torch.arange(cols, device=out.device)
    shape = (n, 1, -1, cols)                               # (image, channel, output row, column)
    tile = tile.view(n, -1)
    starts = first.gather(1, tile).view(shape) + row_in.view(-1, 1, row_in.shape[1], 1) \
        * step.gather(1, tile).view(shape)
    dtype = torch.int32 if staged.numel() < 2 ** 31 else torch.int64
    index = torch.addcmul(starts.to(dtype), channel.gather(1, tile).view(shape).to(dtype),
                          torch.arange(c, dtype=dtype, device=out.device).view(1, c, 1, 1))
    torch.index_select(windows(staged, (pw,), (1,)), 0, index.view(-1), out=out.view(-1, pw))


def _stage(images: torch.Tensor, tiles: Tiles
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The staging buffer [images | images rotated 180 deg | transposed windows] (1-D) and, per
    tile (n, K), the buffer offset of the first row of its output in channel 0 and the offset
    steps from one output row and one channel to the next."""
    n, c, h, w = images.shape
    ph, pw, plane, size = tiles.ph, tiles.pw, h * w, images.numel()
    transposed, rotated, reversed_ = row_source(tiles.codes)
    count = int(transposed.sum())
    staged = images.new_empty(2 * size + count * c * ph * pw)
    staged[:size].view_as(images).copy_(images)
    staged[size:2 * size].view(n * c, plane).copy_(images.reshape(n * c, plane).flip(1))
    image = torch.arange(n, device=images.device).unsqueeze(1) * (c * plane)
    origin = torch.where(rotated, size + image + (h - ph - tiles.y) * w + (w - pw - tiles.x),
                         image + tiles.y * w + tiles.x)
    if count:
        flipped = windows(staged[:2 * size], (c, ph, pw), (plane, 1, w))   # transposed windows
        torch.index_select(flipped, 0, origin[transposed],
                           out=staged[2 * size:].view(count, c, ph, pw))
        rank = transposed.view(-1).cumsum(0).view_as(transposed) - 1
        origin = torch.where(transposed, 2 * size + rank * (c * ph * pw), origin)
    row = torch.where(transposed, pw, w)
    first = torch.where(reversed_, origin + (ph - 1) * row, origin)
    return staged, first, torch.where(reversed_, -row, row), torch.where(transposed, ph * pw, plane)
