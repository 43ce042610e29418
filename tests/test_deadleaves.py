"""Dead-leaves images: pure function of (seed, index), exact shape tests, power-law radii."""

import math

import numpy as np
import torch
from matplotlib.path import Path as PolygonPath

from synthcl.synthetic import deadleaves as dl


def test_image_depends_only_on_seed_and_index():
    batch = dl.dead_leaves([3, 9, 4], seed=7, height=24, width=20)
    assert batch.shape == (3, 3, 24, 20) and batch.dtype == torch.uint8
    assert torch.equal(dl.dead_leaves([9], seed=7, height=24, width=20)[0], batch[1])
    assert torch.equal(dl.dead_leaves(torch.tensor([4, 3]), 7, 24, 20), batch[[2, 0]])
    assert not torch.equal(dl.dead_leaves([9], seed=8, height=24, width=20)[0], batch[1])


def test_images_are_covered_with_many_shapes():
    images = dl.dead_leaves(range(4), seed=0, height=32, width=32)
    for image in images:
        colours = torch.unique(image.flatten(1).T, dim=0)
        assert len(colours) >= 30


def brute_force_first(table, image, height, width):
    """Per pixel, the first shape covering it, tested shape by shape with independent code
    (matplotlib's point-in-polygon for the polygons)."""
    s = table[:, image].double().numpy()                      # (COLUMNS, K)
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    points = np.stack([xs.ravel(), ys.ravel()], 1)
    first = np.full(height * width, s.shape[1])
    for k in range(s.shape[1]):
        kind, cx, cy = s[dl.KIND, k], s[dl.CX, k], s[dl.CY, k]
        dx, dy = points[:, 0] - cx, points[:, 1] - cy
        if kind == dl.CIRCLE:
            inside = dx**2 + dy**2 <= s[dl.R2, k]
        elif kind >= dl.TRIANGLE:
            verts = s[dl.VERTS:dl.VERTS + 8, k].reshape(4, 2)
            inside = PolygonPath(verts).contains_points(points, radius=1e-9)
        else:
            c, sn = s[dl.COS, k], s[dl.SIN, k]
            u, v = dx * c + dy * sn, dy * c - dx * sn
            inside = (abs(u) <= s[dl.HALF_A, k]) & (abs(v) <= s[dl.HALF_B, k])
        first[(first == s.shape[1]) & inside] = k
    return torch.from_numpy(first)


def test_both_rasterisers_agree_with_a_brute_force_reference():
    h, w = 20, 24
    table = dl._shape_block(3, [0, 1], 0, h, w)
    window = slice(0, dl.BLOCK)
    by_shape = dl._first_by_shape(table, torch.tensor([0, 1]), window, h, w)
    image = torch.arange(2).repeat_interleave(h * w)
    pixel = torch.arange(h * w).repeat(2)
    by_pixel = dl._first_by_pixel(table, image, pixel, window, w).view(2, -1)
    assert torch.equal(by_shape, by_pixel)
    for i in range(2):
        reference = brute_force_first(table, i, h, w)
        agree = (by_shape[i] == reference).float().mean()
        assert agree > 0.995                                   # points on an edge may differ


def test_radii_follow_the_power_law_and_every_shape_kind_occurs():
    table = dl._shape_block(0, list(range(40)), 0, 64, 64)
    r = table[dl.R2].flatten().sqrt() / 64
    lo, hi = dl.RADIUS_RANGE
    assert float(r.min()) >= lo - 1e-6 and float(r.max()) <= hi + 1e-6
    # P(r < 2 lo) for p(r) ~ r^-3 on [lo, hi]
    expected = (lo**-2 - (2 * lo) ** -2) / (lo**-2 - hi**-2)
    assert abs(float((r < 2 * lo).float().mean()) - expected) < 0.02
    kinds = torch.bincount(table[dl.KIND].flatten().long(), minlength=6).float()
    assert torch.all((kinds / kinds.sum() - 1 / 6).abs() < 0.02)
    assert math.isclose(float(table[dl.RGB:].mean()), 0.5, abs_tol=0.02)
