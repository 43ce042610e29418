"""RandomCrop (paper Sec. 3.2, Fig. 3b): tile randomly cropped, rigidly transformed patches.

(D+1) x (D+1) windows of H//D x W//D pixels are cropped at uniformly random positions of the
source (any position where the window fits), each gets an independent random rigid transform
(:mod:`synthcl.generators.rigid`), they are tiled row by row, and a uniformly random H x W crop
of the tiled image is the output.

When D does not divide H, (D+1) tiles of H//D pixels may not cover H (e.g. H=28, D=8: 9 x 3 =
27 < 28); the tile grid then has ceil(H / (H//D)) rows instead (likewise for columns), the fewest
that cover the image, so every output pixel comes from a source window.

Vectorised: windows are gathered through an ``unfold`` view of the batch and written to their
tiles by one indexed copy per transform code (:func:`synthcl.generators.grid.assemble`), the final
crops are gathered through an ``unfold`` view of the tiled batch; no Python loop over patches or
images.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from synthcl.generators.base import Draws, SyntheticGenerator, draws_to
from synthcl.generators.grid import assemble, check_divisions, patch_size
from synthcl.generators.rigid import draw_transforms


class RandomCrop(SyntheticGenerator):
    name = "randomcrop"

    def __init__(self, d: int = 4) -> None:
        self.d = check_divisions(d, self.name)

    def params(self) -> dict[str, Any]:
        return {"d": self.d}

    def check_size(self, height: int, width: int) -> None:
        patch_size(self.d, height, width, self.name)

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
        b, _, h, w = images.shape
        ph, pw, rows, cols = self.layout(h, w)
        draws = draws_to(draws, images.device)
        windows = images.unfold(2, ph, 1).unfold(3, pw, 1)   # (B, C, H-ph+1, W-pw+1, ph, pw) view
        tiled = assemble(windows, draws["y"], draws["x"], draws["transform"], rows, cols)
        crops = tiled.unfold(2, h, 1).unfold(3, w, 1)        # (B, C, oy, ox, H, W) view
        image = torch.arange(b, device=images.device)
        return crops[image, :, draws["crop_y"], draws["crop_x"]]
