"""PatchShuffle (paper Sec. 3.2, Fig. 3a): cut, rigidly transform, shuffle and re-assemble patches.

The image is cut into a D x D grid of patches of H//D x W//D pixels; each patch gets an
independent random rigid transform (:mod:`synthcl.generators.rigid`: 8 for square patches, the 4
shape-preserving ones for non-square patches); the patches are placed in the grid in a random
order (slot k, row-major, gets patch ``perm[k]`` transformed by ``transform[k]``). The output
holds exactly the pixels of the input.

Border rule: when D does not divide H (or W), the grid covers the centred region of
D*(H//D) x D*(W//D) pixels and the remaining border (H mod D rows, split as top = (H mod D) // 2
and the rest at the bottom; likewise for columns) stays in place, unchanged.

Fast: on the CPU one compiled loop writes every patch into the output
(:func:`synthcl.generators.paste.paste_tiles`); elsewhere every output row of a patch is copied
whole from a staging buffer (:func:`synthcl.generators.grid.tile_rows`). No Python loop over
patches or images on either path.
"""

from __future__ import annotations

import torch

from synthcl.generators import paste
from synthcl.generators.base import Draws, draws_to
from synthcl.generators.grid import PatchGenerator, Tiles, patch_size, tile_rows
from synthcl.generators.rigid import draw_transforms


class PatchShuffle(PatchGenerator):
    name = "patchshuffle"

    def draw(self, batch: int, channels: int, height: int, width: int,
             generator: torch.Generator) -> Draws:
        ph, pw = patch_size(self.d, height, width, self.name)
        n = self.d * self.d
        order = torch.rand(batch, n, generator=generator, dtype=torch.float64)
        return {"perm": order.argsort(dim=1, stable=True),
                "transform": draw_transforms((batch, n), ph == pw, generator)}

    def apply(self, images: torch.Tensor, draws: Draws) -> torch.Tensor:
        h, w = images.shape[2:]
        d = self.d
        ph, pw = patch_size(d, h, w, self.name)
        draws = draws_to(draws, images.device)
        top, left = (h - d * ph) // 2, (w - d * pw) // 2
        perm = draws["perm"]
        tiles = Tiles(top + perm // d * ph, left + perm % d * pw, draws["transform"], ph, pw, d)
        whole = (d * ph, d * pw) == (h, w)
        if paste.compiled_for(images):
            out = torch.empty(images.shape, dtype=images.dtype) if whole else \
                images.clone(memory_format=torch.contiguous_format)   # keeps the border
            zero = torch.zeros(images.shape[0], dtype=torch.int64)
            paste.paste_tiles(images, tiles, zero, zero, out, top, left, d * ph, d * pw)
            return out
        out = torch.empty(images.shape, dtype=images.dtype, device=images.device)
        grid = tile_rows(images, tiles, out=out if whole else None)
        if not whole:
            out.copy_(images)                               # the border stays in place
            out[:, :, top:top + d * ph, left:left + d * pw] = grid
        return out
