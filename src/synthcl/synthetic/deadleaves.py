"""Dead-leaves images (Baradad et al. 2021), generated on the fly for the ``universal`` mode.

Shapes of uniform random colour (circles, squares, rotated squares, rectangles, triangles,
quadrilaterals) with circumradius drawn from the power law ``r^-3`` on ``[0.03, 1] x side`` fall
on the canvas until no pixel is uncovered (at most 5000 shapes; pixels still bare then keep a
background colour). We paint front to back (the first shape to cover a pixel colours it), the
classic dead-leaves formulation, which lets the work shrink with the uncovered area: each round
tests only the still-bare pixels of the whole batch against the next shapes of their images.

Image ``i`` is a pure function of ``(seed, i)`` (and its size): shape ``k`` of image ``i`` comes
from the block ``k // 256`` drawn from ``make_generator(seed, "deadleaves", i, block)``.
"""

from __future__ import annotations

import math

import torch

from synthcl.utils.seeding import make_generator

BLOCK = 256
MAX_SHAPES = 5000
RADIUS_RANGE = (0.03, 1.0)
PAIR_BUDGET = 1 << 20                 # (pixel, shape) tests per vectorised round
# columns of the per-shape table
KIND, CX, CY, R2, COS, SIN, HALF_A, HALF_B, VERTS, RGB = 0, 1, 2, 3, 4, 5, 6, 7, 8, 16
COLUMNS = 19
CIRCLE, SQUARE, ROTATED_SQUARE, RECTANGLE, TRIANGLE, QUAD = range(6)


def _shape_block(seed: int, ids: list[int], block: int, height: int,
                 width: int) -> torch.Tensor:
    """(COLUMNS, len(ids), BLOCK) parameters of shapes ``block*BLOCK ...`` of images ``ids``."""
    u = torch.stack([torch.rand(BLOCK, 15, dtype=torch.float64,
                                generator=make_generator(seed, "deadleaves", i, block))
                     for i in ids])                               # (B, BLOCK, 15)
    side = min(height, width)
    lo, hi = RADIUS_RANGE[0] * side, RADIUS_RANGE[1] * side
    r = (lo**-2 - u[..., 0] * (lo**-2 - hi**-2)) ** -0.5        # inverse CDF of p(r) ~ r^-3
    kind = torch.floor(u[..., 1] * 6).clamp(max=5)
    theta = torch.where(kind == SQUARE, 0.0, u[..., 2] * 2 * math.pi)
    corner = torch.where(kind == RECTANGLE, math.pi / 8 + u[..., 3] * math.pi / 4,
                         math.pi / 4)                            # half-diagonal angle of a box
    angles, _ = torch.sort(u[..., 4:8] * 2 * math.pi, dim=-1)   # counter-clockwise vertices
    angles[..., 3] = torch.where(kind == TRIANGLE, angles[..., 2], angles[..., 3])
    cx, cy = u[..., 8] * width, u[..., 9] * height
    verts = torch.stack([cx[..., None] + r[..., None] * torch.cos(angles),
                         cy[..., None] + r[..., None] * torch.sin(angles)], dim=-1)
    columns = [kind, cx, cy, r**2, torch.cos(theta), torch.sin(theta), r * torch.cos(corner),
               r * torch.sin(corner), *verts.flatten(-2).unbind(-1), *u[..., 12:15].unbind(-1)]
    return torch.stack(columns).float()


def _inside(px: torch.Tensor, py: torch.Tensor, table: torch.Tensor, image: torch.Tensor,
            shape: torch.Tensor) -> torch.Tensor:
    """Whether points (P,) lie inside shape ``shape`` of image ``image`` -> (P,) bool."""
    def col(c: int) -> torch.Tensor:
        return table[c, image, shape]

    dx, dy = px - col(CX), py - col(CY)
    inside = dx * dx + dy * dy <= col(R2)
    kind = col(KIND)
    rows = (inside & (kind != CIRCLE)).nonzero().flatten()
    image, shape, dx, dy, kind = image[rows], shape[rows], dx[rows], dy[rows], kind[rows]
    cos, sin = col(COS), col(SIN)
    u, v = dx * cos + dy * sin, dy * cos - dx * sin
    exact = (u.abs() <= col(HALF_A)) & (v.abs() <= col(HALF_B))
    poly = (kind >= TRIANGLE).nonzero().flatten()
    if len(poly):
        vx = table[VERTS:VERTS + 8:2, image[poly], shape[poly]] - px[rows[poly]]
        vy = table[VERTS + 1:VERTS + 8:2, image[poly], shape[poly]] - py[rows[poly]]
        # the point is inside a counter-clockwise convex polygon iff it is left of every edge
        cross = vx * torch.roll(vy, -1, dims=0) - vy * torch.roll(vx, -1, dims=0)
        exact[poly] = (cross >= 0).all(dim=0)
    inside[rows] = exact
    return inside


def _first_by_shape(table: torch.Tensor, images: torch.Tensor, window: slice, height: int,
                    width: int) -> torch.Tensor:
    """For the listed images, the first shape in ``window`` covering each pixel (as an offset in
    the window; the window length where none does), (len(images), H*W). Each shape is rasterised
    over its bounding box, so the cost is about the shapes' area."""
    k = window.stop - window.start
    device = table.device
    cx, cy = table[CX][images, window].flatten(), table[CY][images, window].flatten()
    r = table[R2][images, window].flatten().sqrt()
    x0 = torch.ceil(cx - r - 0.5).clamp(min=0).long()
    x1 = torch.floor(cx + r - 0.5).clamp(max=width - 1).long()
    y0 = torch.ceil(cy - r - 0.5).clamp(min=0).long()
    y1 = torch.floor(cy + r - 0.5).clamp(max=height - 1).long()
    nx, ny = (x1 - x0 + 1).clamp(min=0), (y1 - y0 + 1).clamp(min=0)
    area = nx * ny
    ends = torch.cumsum(area, 0)
    first = torch.full((len(images) * height * width,), k, dtype=torch.long, device=device)
    start, total = 0, len(area)
    while start < total:                                     # chunks of about PAIR_BUDGET pairs
        base = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(torch.searchsorted(ends, base + PAIR_BUDGET, right=True)))
        sizes = area[start:stop]
        flat = torch.repeat_interleave(torch.arange(start, stop, device=device), sizes)
        offset = torch.arange(len(flat), device=device) - (ends - area - base)[flat]
        col, row = x0[flat] + offset % nx[flat], y0[flat] + offset // nx[flat]
        owner, shape = flat // k, flat % k
        inside = _inside(col.float() + 0.5, row.float() + 0.5, table, images[owner],
                         shape + window.start)
        pixel = owner * (height * width) + row * width + col
        first.scatter_reduce_(0, pixel[inside], shape[inside], reduce="amin")
        start = stop
    return first.view(len(images), height * width)


def _first_by_pixel(table: torch.Tensor, image: torch.Tensor, pixel: torch.Tensor,
                    window: slice, width: int) -> torch.Tensor:
    """For bare pixels (image, pixel), the first shape in ``window`` covering each (as an offset;
    the window length where none does). Cost: pixels x shapes."""
    k = window.stop - window.start
    first = torch.full((len(image),), k, dtype=torch.long, device=table.device)
    start = 0
    while start < k:
        count = max(1, min(k - start, PAIR_BUDGET // max(1, len(image))))
        sub = slice(window.start + start, window.start + start + count)
        px, py = (pixel % width).float() + 0.5, (pixel // width).float() + 0.5
        dx = px[:, None] - table[CX][image, sub]
        dy = py[:, None] - table[CY][image, sub]
        point, shape = (dx * dx + dy * dy <= table[R2][image, sub]).nonzero(as_tuple=True)
        inside = _inside(px[point], py[point], table, image[point], shape + sub.start)
        found = torch.full_like(first, count)
        found.scatter_reduce_(0, point[inside], shape[inside], reduce="amin")
        first = torch.where((first == k) & (found < count), found + start, first)
        start += count
    return first


def dead_leaves(indices: torch.Tensor | list[int], seed: int, height: int, width: int,
                device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 (B, 3, height, width) dead-leaves images number ``indices`` of the set ``seed``.

    Shapes come in blocks of 256. For each block, the cheaper of two exact ways finds, for every
    still-bare pixel, the first shape of the block covering it: rasterising the block's shapes
    (cost ~ their area; early, when most pixels are bare) or testing the bare pixels against them
    (cost ~ bare pixels x shapes; late, when few remain).
    """
    ids = [int(i) for i in (indices.tolist() if torch.is_tensor(indices) else indices)]
    device = torch.device(device or "cpu")
    b, hw = len(ids), height * width
    out = torch.zeros(3, b, hw, device=device)
    image = torch.arange(b, device=device).repeat_interleave(hw)   # the bare pixels
    pixel = torch.arange(hw, device=device).repeat(b)
    table = torch.empty(COLUMNS, b, 0, device=device)               # column-major shape table
    for block in range(math.ceil(MAX_SHAPES / BLOCK)):
        if not len(image):
            break
        fresh = _shape_block(seed, ids, block, height, width).to(device)
        table = torch.cat([table, fresh], dim=2)
        window = slice(block * BLOCK, min((block + 1) * BLOCK, MAX_SHAPES))
        k = window.stop - window.start
        bare_images = torch.unique(image)
        r2 = table[R2][bare_images, window]
        if float((4 * r2 + 1).sum()) < len(image) * k:
            first = _first_by_shape(table, bare_images, window, height, width)
            lookup = torch.full((b,), -1, dtype=torch.long, device=device)
            lookup[bare_images] = torch.arange(len(bare_images), device=device)
            first = first[lookup[image], pixel]
        else:
            first = _first_by_pixel(table, image, pixel, window, width)
        hit = (first < k).nonzero().flatten()
        out[:, image[hit], pixel[hit]] = table[RGB:RGB + 3, image[hit], window.start + first[hit]]
        miss = (first == k).nonzero().flatten()
        image, pixel = image[miss], pixel[miss]
    if len(image):                                              # still bare: background colour
        background = torch.stack([torch.rand(3, generator=make_generator(seed, "background", i))
                                  for i in ids], dim=1).to(device)
        out[:, image, pixel] = background[:, image]
    out = (out * 255).round_().to(torch.uint8).view(3, b, height, width)
    return out.permute(1, 0, 2, 3).contiguous()
