"""RandomCrop (paper Sec. 3.2, Fig. 3b): tile randomly cropped, rigidly transformed patches.

(D+1) x (D+1) windows of H//D x W//D pixels are cropped at uniformly random positions of the
source (any position where the window fits), each gets an independent random rigid transform
(:mod:`synthcl.generators.rigid`), they are tiled row by row, and a uniformly random H x W crop
of the tiled image is the output.

When D does not divide H, (D+1) tiles of H//D pixels may not cover H (e.g. H=28, D=8: 9 x 3 =
27 < 28); the tile grid then has ceil(H / (H//D)) rows instead (likewise for columns), the fewest
that cover the image, so every output pixel comes from a source window.

Fast: on the CPU one compiled loop writes the crop of the tiled image straight into the output
(:func:`synthcl.generators.paste.paste_tiles`); elsewhere the H rows of the tiled image that the
crop keeps are copied row by row of a tile from a staging buffer
(:func:`synthcl.generators.grid.tile_rows`), then the crops row by row of the image, each with
one ``index_select``. No Python loop over patches or images on either path.
"""

from __future__ import annotations

import math

import torch

from synthcl.generators import paste
from synthcl.generators.base import Draws, draws_to
from synthcl.generators.grid import PatchGenerator, Tiles, patch_size, tile_rows, windows
from synthcl.generators.rigid import draw_transforms


class RandomCrop(PatchGenerator):
    name = "randomcrop"

    def layout(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(patch height, patch width, tile rows, tile columns) for images of this size."""
        ph, pw = patch_size(self.d, height, width, self.name)
        rows = max(self.d + 1, math.ceil(height / ph))
        return ph, pw, rows, max(self.d + 1, math.ceil(width / pw))

    def draw(self, batch: int, channels: int, height: int, width: int,
             generator: torch.Generator) -> Draws:
        ph, pw, rows, cols = self.layout(height, width)
        k = rows * cols
        return {
            "y": torch.randint(0, height - ph + 1, (batch, k), generator=generator),
            "x": torch.randint(0, width - pw + 1, (batch, k), generator=generator),
            "transform": draw_transforms((batch, k), ph == pw, generator),
            "crop_y": torch.randint(0, rows * ph - height + 1, (batch,), generator=generator),
            "crop_x": torch.randint(0, cols * pw - width + 1, (batch,), generator=generator),
        }

    def apply(self, images: torch.Tensor, draws: Draws) -> torch.Tensor:
        h, w = images.shape[2:]
        ph, pw, _, cols = self.layout(h, w)
        draws = draws_to(draws, images.device)
        tiles = Tiles(draws["y"], draws["x"], draws["transform"], ph, pw, cols)
        out = torch.empty(images.shape, dtype=images.dtype, device=images.device)
        if paste.compiled_for(images):
            paste.paste_tiles(images, tiles, draws["crop_y"], draws["crop_x"], out, 0, 0, h, w)
            return out
        kept = draws["crop_y"].unsqueeze(1) + torch.arange(h, device=images.device)
        strips = tile_rows(images, tiles, kept)           # rows crop_y .. crop_y + H - 1
        crop_columns(strips, draws["crop_x"], out)
        return out


def crop_columns(strips: torch.Tensor, left: torch.Tensor, out: torch.Tensor) -> None:
    """``out[b] = strips[b, :, :, left[b]:left[b] + W]`` for (n, C, H, W) contiguous ``out``."""
    n, c, h, width = strips.shape
    w = out.shape[-1]
    if n == 0:
        return
    first = torch.arange(n * c * h, device=out.device).view(n, -1) * width + left.unsqueeze(1)
    torch.index_select(windows(strips.view(-1), (w,), (1,)), 0, first.view(-1),
                       out=out.view(-1, w))
