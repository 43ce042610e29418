"""GPNN (Granot et al., CVPR 2022, "Drop the GAN"): diverse images from one image by patch
nearest neighbours over a Gaussian pyramid, as the official code (WeizmannVision/DropTheGAN,
``applications.generation``) computes it.

Per source image:

* Pyramid: level 0 is the source; level k has ceil(H * 0.75^k) x ceil(W * 0.75^k) pixels and is
  level k-1 resized (``resizer="cubic"``: :mod:`synthcl.generators.resize`, the official
  resizer's antialiased cubic kernel; ``"bilinear"``: synthcl's former Gaussian blur, sigma = 2 /
  (6 * scale), then bilinear). Levels are added while the shorter side stays >= ``min_coarse`` and
  there are at most ``max_levels``.
* Coarsest level: the start is that level plus Gaussian noise (std ``noise_std`` = 0.75 on
  pixels in [0, 1], independent per pixel and channel), followed by ``coarsest_iters`` = 1 PNN
  iteration whose keys and values are the coarsest source level itself.
* Every finer level: the output so far is upscaled (same resizer) and refined by ``iters`` = 10
  PNN iterations. Queries are the 7x7 patches (stride 1) of the current output, keys the patches
  of the coarser source level upscaled to this size (a blurred source, fixed for the level),
  values the patches of this level's source; each output pixel is the weighted mean of the value
  patches that overlap it (``fold="gaussian"``: the official weights exp(-(u^2 + v^2) / (2 *
  1.7^2)) on patch offsets u, v scaled to [-1, 1], so 0.71 in the corners; ``"mean"``: equal).
* Optional completeness normalisation ``alpha`` (official generation default: none): distances to
  key j are divided by ``alpha + min_i MSE(query_i, key_j)`` over the queries of the same image.

Presets (explicit options override them):

* ``official``: 9 downscalings (``max_levels`` = 10) while the coarsest side stays >= the patch
  size, cubic resizing, Gaussian fold. Started from the same noise map it returns the official
  code's output (measured on a 96x96 PCam image: largest difference 0 grey levels).
* ``synthcl`` (the default): the same operators, but the coarsest level keeps a shorter side of
  at least ``min_coarse`` = 2 x patch size + 2 = 16 pixels (10 x 10 positions of a 7x7 patch).
  At 224x224 both presets give the same 10 levels (coarsest 17 px). At 96x96 the official depth
  ends at 8 px, where a 7x7 patch has 2 x 2 positions: most outputs are the source, shifted by at
  most a pixel (on PCam, 2 of 3 outputs within 0.1 grey level of it); synthcl stops at 18 px (the
  official code at ``num_levels=6``, which it then matches: same noise, largest difference 6 grey
  levels, mean 0.007, from float near-ties). At 28x28 the ``official`` preset stops at 7 px (the
  official code's 9th downscaling would be 3 px, too small for a patch) and returns the source;
  synthcl uses 3 levels (28, 21, 16) and its outputs differ from it.
  Measured (``benchmarks/gpnn_faithfulness.py``, PCam test image, 3 outputs; mean absolute
  difference from the source / RMS of output 7x7 patches to their nearest source patch, mean and
  p90, grey levels): default 35.5 / 4.2 / 16.0; official code at 6 levels 32.9 / 5.5 / 17.5;
  former default (bilinear, plain mean) 46.3 / 5.9 / 18.1: the official operators make outputs
  sharper (closer to source patches) at the same diversity.

Nearest neighbours are exact (squared L2, :mod:`synthcl.generators.nearest`, tiled matrix
products; ties go to the lowest key index). Within a level, the keys stay fixed and the queries
move less and less, so a query's previous nearest key is reused when it provably still wins: with
d1, d2 the distances to the nearest and second-nearest key and m how far the query patch moved
(L2), every other key is at least d2 - m away from the moved query and the old key at most d1 + m
(triangle inequality). Both bounds are carried over iterations (kept conservative by giving up
4e-6 of |q|^2 + max |k|^2 on squared distances, above their float32 rounding); where they overlap,
the patch is gathered and its exact distance to the old key replaces the upper bound, and only the
queries still in doubt are searched again. When an iteration picks exactly the neighbours of the
previous one, the output is a fixed point and the remaining iterations of the level are skipped.
Both give the same output as the plain loop. Tried and not kept (exact, but no faster on CPU,
measured): lower bounds from a PCA projection of the patches plus the norm of the rest (the passes
over the bound matrix cost about as much as the 147-dimensional product itself, and on smooth
images the bounds prune little), and shortlists of 4-8 neighbours per query (20-26% fewer queries
searched again, paid back in gathering their distances).

Speed (``benchmarks/bench_gpnn.py --official PATH --threads 1``, CPU seconds per image, one
thread of a 2-core Xeon (AVX-512, MKL) shared with another job; official / this in brackets):
96x96 PCam, 8 outputs: default 0.81 s, preset official 0.61 s, official code 9.75 s (12.0x,
16.0x; before these changes 1.08 s and 0.93 s against 9.39 s, 8.7x and 10.1x); 224x224 DR
fundus, 2 outputs: default 30.4 s, preset official 34.9 s (the same 10 levels: noise), official
code 409 s (13.4x, 11.7x; the official code took 351 s in an earlier run, which gives 11.5x;
before: 36.7-37.8 s).
Most of the time is the distance products (about 150 GFLOPS on chunks of 2048 keys), and 3/4 of the
searched rows are the first two iterations of each level, where (nearly) every query is searched;
the block minima take about a sixth of the products' time. Patches are copied from a strided view
(or gathered where needed) and the fold adds the gathered value columns at the 49 patch offsets, in
F.fold's order: the bytes of F.unfold / F.fold at a fraction of their cost (fold: 94 -> 25 ms for
8 outputs at 96x96). Outputs are byte for byte those of the former, slower code (checked on PCam
96x96 with both presets, bilinear/mean, alpha, grey, a 40x40 crop, 28x28 and 224x224 DR).

Many outputs of one source are generated together: ``apply`` groups identical source images,
builds their pyramid, keys and values once, and runs the outputs' queries through the same
matrix products in chunks bounded to ``PATCH_ELEMENTS`` floats. Sources smaller than
``min_coarse`` use a single level; sources smaller than the patch are an error.

Outputs are deterministic functions of (source, draws) on a given device; CPU and CUDA agree up to
floating-point rounding (not byte for byte), which is why synthetic sets cache GPNN output.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from synthcl.errors import SynthclError
from synthcl.generators.base import Draws, SyntheticGenerator, check_images
from synthcl.generators.nearest import Keys, Neighbours, nearest
from synthcl.generators.resize import resize

PATCH_ELEMENTS = 1 << 25
SQDIST_TOLERANCE = 4e-6
FOLD_STD = 1.7              # the official Gaussian fold weights, on patch offsets in [-1, 1]
RESIZERS = ("cubic", "bilinear")
FOLDS = ("gaussian", "mean")
PRESETS: dict[str, dict[str, Any]] = {       # min_coarse None: 2 p + 2; 0: the patch size p
    "synthcl": {"resizer": "cubic", "fold": "gaussian", "max_levels": 10, "min_coarse": None},
    "official": {"resizer": "cubic", "fold": "gaussian", "max_levels": 10, "min_coarse": 0},
}


class GPNN(SyntheticGenerator):
    name = "gpnn"
    costly = True

    def __init__(self, patch_size: int = 7, scale: float = 0.75, noise_std: float = 0.75,
                 iters: int = 10, coarsest_iters: int = 1, alpha: float | None = None,
                 max_levels: int | None = None, min_coarse: int | None = None,
                 preset: str = "synthcl", resizer: str | None = None,
                 fold: str | None = None) -> None:
        if preset not in PRESETS:
            raise SynthclError(f"gpnn: preset={preset!r} is unknown; valid presets: "
                               f"{', '.join(PRESETS)}")
        chosen = {"resizer": resizer, "fold": fold, "max_levels": max_levels,
                  "min_coarse": min_coarse}
        settings = {k: PRESETS[preset][k] if v is None else v for k, v in chosen.items()}
        for key, valid in (("resizer", RESIZERS), ("fold", FOLDS)):
            if settings[key] not in valid:
                raise SynthclError(f"gpnn: {key}={settings[key]!r} is unknown; valid: "
                                   f"{', '.join(valid)}")
        max_levels = settings["max_levels"]
        if patch_size < 1 or iters < 1 or coarsest_iters < 1 or max_levels < 1:
            raise SynthclError(f"gpnn: patch_size={patch_size}, iters={iters}, coarsest_iters="
                               f"{coarsest_iters} and max_levels={max_levels} must be >= 1")
        if not 0 < scale < 1:
            raise SynthclError(f"gpnn: scale={scale} must lie strictly between 0 and 1, e.g. 0.75")
        if noise_std < 0 or (alpha is not None and alpha <= 0):
            raise SynthclError(f"gpnn: noise_std={noise_std} must be >= 0 and alpha={alpha} "
                               f"> 0 (or none)")
        self.patch_size = patch_size
        self.scale = scale
        self.noise_std = noise_std
        self.iters = iters
        self.coarsest_iters = coarsest_iters
        self.alpha = alpha
        self.max_levels = max_levels
        coarse = settings["min_coarse"]
        self.min_coarse = 2 * patch_size + 2 if coarse is None else max(coarse, patch_size)
        self.resizer = settings["resizer"]
        self.fold = settings["fold"]

    def params(self) -> dict[str, Any]:
        return {"patch_size": self.patch_size, "scale": self.scale, "noise_std": self.noise_std,
                "iters": self.iters, "coarsest_iters": self.coarsest_iters, "alpha": self.alpha,
                "max_levels": self.max_levels, "min_coarse": self.min_coarse,
                "resizer": self.resizer, "fold": self.fold}

    def check_size(self, height: int, width: int) -> None:
        if min(height, width) < self.patch_size:
            raise SynthclError(
                f"gpnn: {height}x{width} images are smaller than its {self.patch_size}x"
                f"{self.patch_size} patches; resize them (--image-size) or use patchshuffle")

    def levels(self, height: int, width: int) -> list[tuple[int, int]]:
        """Pyramid sizes (H, W), finest first."""
        self.check_size(height, width)
        sizes = [(height, width)]
        while len(sizes) < self.max_levels:
            k = len(sizes)
            size = (math.ceil(height * self.scale ** k), math.ceil(width * self.scale ** k))
            if min(size) < self.min_coarse or size == sizes[-1]:
                break
            sizes.append(size)
        return sizes

    def draw(self, batch: int, channels: int, height: int, width: int,
             generator: torch.Generator) -> Draws:
        coarse = self.levels(height, width)[-1]
        return {"noise": torch.randn((batch, channels, *coarse), generator=generator)}

    def apply(self, images: torch.Tensor, draws: Draws) -> torch.Tensor:
        check_images(images)
        b, c, h, w = images.shape
        noise = draws["noise"].to(images.device, torch.float32) * self.noise_std
        patches_per_image = (h - self.patch_size + 1) * (w - self.patch_size + 1)
        chunk = max(1, PATCH_ELEMENTS // (patches_per_image * c * self.patch_size ** 2))
        out = torch.empty_like(images)
        sources, group = torch.unique(images.reshape(b, -1), dim=0, return_inverse=True)
        for g, source in enumerate(sources):
            pyramid = self.pyramid(source.view(c, h, w).float() / 255)
            rows = (group == g).nonzero()[:, 0]
            for part in rows.split(chunk):
                generated = self.generate(pyramid, noise[part])
                out[part] = generated.mul(255).round_().clamp_(0, 255).to(torch.uint8)
        return out

    def pyramid(self, source: torch.Tensor) -> list[torch.Tensor]:
        """Gaussian pyramid of one float image (C, H, W), finest first."""
        sizes = self.levels(*source.shape[1:])
        levels = [source]
        for size in sizes[1:]:
            if self.resizer == "cubic":
                levels.append(resize(levels[-1], size, self.scale))
            else:
                kernel = _gaussian_kernel(2 / (6 * self.scale), source)
                levels.append(_bilinear(_blur(levels[-1][None], kernel), size)[0])
        return levels

    def generate(self, pyramid: list[torch.Tensor], noise: torch.Tensor) -> torch.Tensor:
        """Outputs (M, C, H, W) in [0, 1] from one source's pyramid and M noise maps."""
        out = pyramid[-1][None] + noise
        out = self.refine(out, pyramid[-1], pyramid[-1], self.coarsest_iters)
        for level in range(len(pyramid) - 2, -1, -1):
            size = pyramid[level].shape[1:]
            out = self.upscale(out, size)
            keys = self.upscale(pyramid[level + 1][None], size)[0]
            out = self.refine(out, keys, pyramid[level], self.iters)
        return out

    def upscale(self, images: torch.Tensor, size: torch.Size) -> torch.Tensor:
        if self.resizer == "cubic":
            return resize(images, size, 1 / self.scale)
        return _bilinear(images, size)

    def refine(self, out: torch.Tensor, key_image: torch.Tensor, value_image: torch.Tensor,
               iters: int) -> torch.Tensor:
        """``iters`` PNN iterations at one level for a batch of outputs (M, C, h, w)."""
        p = self.patch_size
        m, _, h, w = out.shape
        keys = Keys(_patches(key_image[None], p))
        weights = _fold_weights(p, out.shape[1], self.fold, out)
        values = (_patches(value_image[None], p) * weights).T.contiguous()   # (C * p * p, P)
        count = F.fold(weights[None, :, None].expand(1, -1, values.shape[1]), (h, w), p)
        found: _Bounds | None = None
        previous, index = out, None
        for it in range(iters):
            track = self.alpha is None and it < iters - 1
            last = index
            if self.alpha is not None:
                index = self._normalised_nearest(_patches(out, p), keys, m)
            elif found is None:
                found = _Bounds.search(_patches(out, p), keys, track)
                index = found.index.clone()
            else:
                found.refresh(out, p, _patch_motion(out, previous, p), keys, track)
                index = found.index.clone()
            if _repeats(index, last):
                break                           # a fixed point: further iterations repeat it
            previous = out
            out = _fold(values.index_select(1, index), out.shape, p) / count
        return out

    def _normalised_nearest(self, queries: torch.Tensor, keys: Keys, m: int) -> torch.Tensor:
        """Nearest keys under the completeness weighting, image by image."""
        index = []
        dim = queries.shape[1]
        for image_queries in queries.view(m, -1, dim):
            closest = nearest(keys.vectors[:len(keys)], image_queries).dist / dim  # per key, MSE
            index.append(nearest(image_queries, keys, weights=1 / (self.alpha + closest)).index)
        return torch.cat(index)


class _Bounds:
    """Per query: nearest-key ``index``, an upper bound ``near`` on the L2 distance to that key and
    a lower bound ``far`` on the distance to any other key (``None`` when not tracked)."""

    def __init__(self, found: Neighbours, tolerance: torch.Tensor) -> None:
        self.index = found.index
        self.near = (found.dist + tolerance).sqrt_()
        self.far = (None if found.second is None
                    else (found.second - tolerance).clamp_(min=0).sqrt_())

    @classmethod
    def search(cls, queries: torch.Tensor, keys: Keys, track: bool) -> _Bounds:
        """Exact search; the bounds give up ``SQDIST_TOLERANCE`` of the squared norms (above
        float32 rounding of the distances) so that reuse never decides a near-tie."""
        scale = torch.linalg.vector_norm(queries, dim=1).square_() + keys.sqnorm[:len(keys)].max()
        return cls(nearest(queries, keys, second=track), SQDIST_TOLERANCE * scale)

    def refresh(self, images: torch.Tensor, p: int, motion: torch.Tensor, keys: Keys,
                track: bool) -> None:
        """The queries, p x p patches of ``images``, moved by ``motion``: the bounds widen by it;
        where they overlap, the exact distance to the key replaces ``near``, and the queries
        still in doubt are searched again."""
        self.far -= motion
        self.near += motion
        check = (self.near >= self.far).nonzero()[:, 0]
        queries = _patches_at(images, p, check)
        near = torch.linalg.vector_norm(queries - keys.vectors[self.index[check]], dim=1)
        self.near[check] = near
        doubt = near >= self.far[check]
        stale = check[doubt]
        if len(stale):
            fresh = _Bounds.search(queries[doubt], keys, track)
            self.index[stale] = fresh.index
            self.near[stale] = fresh.near
            if track:
                self.far[stale] = fresh.far


def _repeats(index: torch.Tensor, last: torch.Tensor | None) -> bool:
    """The same neighbours as the previous iteration (hence the same output from now on)."""
    return last is not None and torch.equal(index, last)


def _patches(images: torch.Tensor, p: int) -> torch.Tensor:
    """All p x p patches at stride 1 of images (M, C, h, w) as rows (M * positions, C * p * p) in
    F.unfold's order; for one image in its layout too (rows of a column-major view, whose norms
    round differently), for several copied once from a strided view."""
    if len(images) == 1:
        return F.unfold(images, p)[0].T
    return _patch_view(images, p).flatten(0, 2).flatten(1)


def _patches_at(images: torch.Tensor, p: int, positions: torch.Tensor) -> torch.Tensor:
    """The rows of ``_patches(images, p)`` at ``positions``, gathered from the images."""
    view = _patch_view(images, p)
    y, x = positions.div(view.shape[2], rounding_mode="floor"), positions % view.shape[2]
    return view[y.div(view.shape[1], rounding_mode="floor"), y % view.shape[1], x].flatten(1)


def _patch_view(images: torch.Tensor, p: int) -> torch.Tensor:
    """(M, h - p + 1, w - p + 1, C, p, p) view of the patches of images (M, C, h, w)."""
    m, c, h, w = images.shape
    sm, sc, sh, sw = images.stride()
    return images.as_strided((m, h - p + 1, w - p + 1, c, p, p), (sm, sh, sw, sc, sh, sw),
                             images.storage_offset())


def _fold(columns: torch.Tensor, shape: torch.Size, p: int) -> torch.Tensor:
    """F.fold of patch columns (C * p * p, M * positions) into images ``shape`` (M, C, h, w),
    summing in F.fold's order (patch offsets row by row, from zero): the same bytes."""
    m, c, h, w = shape
    columns = columns.view(c, p, p, m, h - p + 1, w - p + 1)
    out = columns.new_zeros((m, c, h, w))
    planes = out.transpose(0, 1)
    for dy in range(p):
        for dx in range(p):
            planes[:, :, dy:dy + h - p + 1, dx:dx + w - p + 1] += columns[:, dy, dx]
    return out


def _patch_motion(new: torch.Tensor, old: torch.Tensor, p: int) -> torch.Tensor:
    """L2 distance between the p x p patches of ``new`` and ``old`` at every position."""
    sq = (new - old).square().sum(1, keepdim=True)
    return (F.avg_pool2d(sq, p, stride=1) * (p * p)).clamp_(min=0).sqrt().reshape(-1)


def _fold_weights(p: int, channels: int, fold: str, like: torch.Tensor) -> torch.Tensor:
    """Weight of every element of a p x p patch row (C * p * p) in the fold: Gaussian in the
    offset from the patch centre (offsets scaled to [-1, 1], std ``FOLD_STD``) or uniform."""
    offsets = torch.linspace(-1, 1, p, dtype=like.dtype, device=like.device)
    g = torch.exp(-0.5 * (offsets / FOLD_STD) ** 2) if fold == "gaussian" else offsets * 0 + 1
    return torch.outer(g, g).flatten().repeat(channels)


def _bilinear(images: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    return F.interpolate(images, size=tuple(size), mode="bilinear", align_corners=False)


def _gaussian_kernel(sigma: float, like: torch.Tensor) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=like.dtype, device=like.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(images: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (1, C, h, w) with replicated borders."""
    c, r = images.shape[1], len(kernel) // 2
    padded = F.pad(images, (r, r, r, r), mode="replicate")
    rows = F.conv2d(padded, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return F.conv2d(rows, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
