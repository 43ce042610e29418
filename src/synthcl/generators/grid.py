"""Patch grids shared by PatchShuffle and RandomCrop: patch size, D checks and tiling.

Tiling copies rigidly transformed windows of the source images into a grid of tiles one pixel
row at a time. By :func:`synthcl.generators.rigid.row_source`, each row of a transformed window
is a row of the window, of the same window of the image rotated by 180 deg, or of the transpose
of either, taken in forward or reversed row order. A staging buffer holds the images, the images
rotated by 180 deg (one flip of each plane) and the transposed windows (one strided copy each);
a single ``index_select`` over the view of all its runs of ``pw`` bytes then copies every output
row with one ``memcpy``. No Python loop over patches and no per-pixel indices: the index has one
entry per row of a tile. On the CPU, images go through in chunks of about 2 MiB, so that the
buffer stays in the caches and its memory is reused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from synthcl.errors import SynthclError
from synthcl.generators.base import SyntheticGenerator
from synthcl.generators.rigid import row_source

CHUNK_BYTES = 2 << 20     # source bytes staged at once on the CPU (fastest of 0.5-8 MiB)


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


def chunk_size(images: torch.Tensor) -> int:
    """How many images to stage at once: about CHUNK_BYTES on the CPU, all of them elsewhere."""
    batch = images.shape[0]
    if images.device.type != "cpu":
        return max(1, batch)
    return max(1, min(batch, CHUNK_BYTES // max(1, math.prod(images.shape[1:]))))


def windows(flat: torch.Tensor, shape: tuple[int, ...], strides: tuple[int, ...]) -> torch.Tensor:
    """View of every window of ``shape`` and ``strides`` in the 1-D ``flat``, by first element."""
    extent = sum((size - 1) * stride for size, stride in zip(shape, strides, strict=True))
    return flat.as_strided((flat.numel() - extent, *shape), (1, *strides))


def tile_rows(images: torch.Tensor, tiles: Tiles, kept: torch.Tensor | None = None,
              out: torch.Tensor | None = None) -> Iterator[tuple[slice, torch.Tensor]]:
    """Pixel rows of the tiled images, one chunk of images at a time.

    The tiled image of image b (of ``images``, (B, C, H, W)) has K // cols tile rows of ph pixel
    rows each; ``kept`` (B, R) int64 picks the R pixel rows wanted (default: all of them). Yields
    (the chunk's images, its rows (n, C, R, cols*pw)): a slice of ``out`` (B, C, R, cols*pw),
    contiguous, when given, else a scratch tensor that the next chunk overwrites.
    """
    batch, c = images.shape[:2]
    if batch == 0:
        return
    n = chunk_size(images)
    stage = _Stage(images, tiles, n)
    scratch = out is None
    if scratch:
        height = tiles.codes.shape[1] // tiles.cols * tiles.ph if kept is None else kept.shape[1]
        out = images.new_empty((n, c, height, tiles.cols * tiles.pw))
    for start, (low, high) in zip(range(0, batch, n), stage.bounds, strict=True):
        part = slice(start, min(start + n, batch))
        stage.fill(images[part], low, high)
        rows = out[:part.stop - start] if scratch else out[part]
        stage.copy_rows(part, None if kept is None else kept[part], rows)
        yield part, rows


class _Stage:
    """The staging buffer (C, L) of a chunk of n images and where each tile's rows are in it.

    Channel c of the buffer holds channel c of [the chunk's images | the same rotated by 180
    deg | its transposed windows]. ``sources`` are the offsets in the first two parts of the
    transposed windows, chunk after chunk, ``bounds`` each chunk's [low, high) range of them;
    ``first`` (B, K) is the offset of the first row of each tile's output in channel 0 and
    ``step`` (B, K) the offset from one of its rows to the next (negative: rows in reverse).
    """

    def __init__(self, images: torch.Tensor, tiles: Tiles, n: int) -> None:
        batch, c, h, w = images.shape
        ph, pw, plane = tiles.ph, tiles.pw, h * w
        transposed, rotated, reversed_ = row_source(tiles.codes)
        image = (torch.arange(batch, device=images.device) % n).unsqueeze(1) * plane
        origin = torch.where(rotated, n * plane + image + (h - ph - tiles.y) * w + w - pw - tiles.x,
                             image + tiles.y * w + tiles.x)
        rank, counts = _ranks(transposed, n)
        ends = counts.cumsum(0)
        self.sources = origin[transposed]
        self.bounds = torch.stack([ends - counts, ends], 1).tolist()
        self.buffer = images.new_empty((c, 2 * n * plane + int(counts.max()) * ph * pw))
        dtype = torch.int32 if self.buffer.numel() < 2 ** 31 else torch.int64
        origin = torch.where(transposed, 2 * n * plane + rank * (ph * pw), origin)
        row = torch.where(transposed, pw, w)
        self.first = torch.where(reversed_, origin + (ph - 1) * row, origin).to(dtype)
        self.step = torch.where(reversed_, -row, row).to(dtype)
        self.tiles, self.n, self.shape = tiles, n, (c, h, w)
        # views of the buffer: every run of pw bytes, and every transposed window of the first
        # two parts (the view ends before the third part, where the windows are copied to)
        length = self.buffer.shape[1]
        self.runs = windows(self.buffer.view(-1), (pw,), (1,))
        sources = self.buffer.view(-1)[:(c - 1) * length + 2 * n * plane]
        self.transposed = windows(sources, (c, ph, pw), (length, 1, w)) if ph == pw else None
        self.rows = torch.arange(ph, dtype=dtype, device=images.device).view(1, 1, ph, 1)
        self.channels = torch.arange(c, dtype=dtype, device=images.device).view(1, c, 1, 1) * length

    def fill(self, images: torch.Tensor, low: int, high: int) -> None:
        """Stage a chunk of images: copy them, rotate them, copy its transposed windows."""
        c, h, w = self.shape
        n, plane, ph, pw = self.n, h * w, self.tiles.ph, self.tiles.pw
        planes = images.reshape(-1, c, plane).transpose(0, 1)
        m = planes.shape[1]
        self.buffer[:, :m * plane].view(c, m, plane).copy_(planes)
        self.buffer[:, n * plane:(n + m) * plane].view(c, m, plane).copy_(planes.flip(2))
        if high > low:
            target = self.buffer[:, 2 * n * plane:2 * n * plane + (high - low) * ph * pw]
            torch.index_select(self.transposed, 0, self.sources[low:high],
                               out=target.view(c, high - low, ph, pw).transpose(0, 1))

    def copy_rows(self, part: slice, kept: torch.Tensor | None, out: torch.Tensor) -> None:
        """Copy the rows of the staged chunk ``part`` of the batch to ``out`` (n, C, R, cols*pw)."""
        m, cols = out.shape[0], self.tiles.cols
        shape = (m, -1, 1, cols)                        # (image, tile row, pixel row, column)
        starts = torch.addcmul(self.first[part].view(shape), self.step[part].view(shape),
                               self.rows).view(m, -1, cols)
        if kept is not None:
            starts = starts.gather(1, kept.unsqueeze(-1).expand(-1, -1, cols))
        index = starts.unsqueeze(1) + self.channels
        torch.index_select(self.runs, 0, index.view(-1), out=out.view(-1, self.tiles.pw))


def _ranks(transposed: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank of each transposed tile (B, K) among those of its chunk of n images, and how many
    each chunk has."""
    chunk = torch.arange(transposed.shape[0], device=transposed.device) // n
    counts = torch.zeros(int(chunk[-1]) + 1, dtype=torch.long, device=transposed.device)
    counts.index_add_(0, chunk, transposed.sum(1))
    before = (counts.cumsum(0) - counts)[chunk].unsqueeze(1)
    return transposed.view(-1).cumsum(0).view_as(transposed) - 1 - before, counts
