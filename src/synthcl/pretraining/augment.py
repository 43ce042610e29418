"""f_CL: the MoCo v2 augmentation on batches of tensors, with parameters drawn per image.

The order and ranges are MoCo v2's: random resized crop (scale 0.2-1, aspect 3/4-4/3) to the
training size -> colour jitter (brightness, contrast, saturation 0.4, hue 0.1; applied with
p=0.8, the four in a random order per image) -> grayscale (p=0.2) -> Gaussian blur (sigma
0.1-2 pixels, p=0.5) -> horizontal flip (p=0.5). Unlike torchvision's transforms on a batch tensor
(one draw per call), every image gets its own parameters.

Parameters are drawn on the CPU from a ``torch.Generator`` (:meth:`Augment.draw`) and applied on
the images' device (:meth:`Augment.apply`), so CPU and CUDA see the same draws. Choices beyond the
reference: the crop box is continuous (sub-pixel) and resampled bilinearly by ``grid_sample``; the
flip is folded into the crop's affine map (it commutes with every other step); the blur kernel
side is about 10 % of the image side (odd, at least 3, as in SimCLR) with reflect padding.

Grayscale sources stay one channel through f_CL: saturation, hue and grayscale are identities on
gray images, so only crop, brightness, contrast, blur and flip act on them; they are replicated
to three channels at the network input (:func:`synthcl.models.normalize`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)
JITTERS = ("brightness", "contrast", "saturation", "hue")
CROP_ATTEMPTS = 10


@dataclass(frozen=True)
class Augment:
    """MoCo v2's f_CL producing ``size`` = (height, width) float views in [0, 1]."""

    size: tuple[int, int]
    scale: tuple[float, float] = (0.2, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    jitter_p: float = 0.8
    gray_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_p: float = 0.5
    flip_p: float = 0.5

    def draw(self, batch: int, height: int, width: int,
             generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Per-image parameters for ``batch`` source images of ``height x width`` (CPU tensors)."""
        g = generator
        box = _crop_boxes(batch, height, width, self.scale, self.ratio, g)
        flip = torch.rand(batch, generator=g) < self.flip_p
        jitter_on = torch.rand(batch, generator=g) < self.jitter_p
        u = torch.rand(batch, 4, generator=g)
        strength = torch.tensor(self.jitter)
        factors = 1 + (2 * u - 1) * strength                     # brightness/contrast/saturation
        factors[:, 3] = (2 * u[:, 3] - 1) * strength[3]          # hue shift
        order = torch.argsort(torch.rand(batch, 4, generator=g), dim=1)
        gray = torch.rand(batch, generator=g) < self.gray_p
        lo, hi = self.blur_sigma
        sigma = lo + (hi - lo) * torch.rand(batch, generator=g)
        blur_on = torch.rand(batch, generator=g) < self.blur_p
        return {"box": box, "flip": flip, "jitter_on": jitter_on, "factors": factors,
                "order": order, "gray": gray, "sigma": torch.where(blur_on, sigma, 0.0)}

    def apply(self, images: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """uint8 or float (B, C, H, W) -> float (B, C, *size) in [0, 1], on the images' device."""
        x = images.float().div_(255) if images.dtype == torch.uint8 else images.float()
        x = resized_crop(x, params["box"], params["flip"], self.size)
        x = color_jitter(x, params["jitter_on"], params["factors"], params["order"])
        if x.shape[1] == 3:
            x = torch.where(_col(params["gray"], x), grayscale(x).expand_as(x), x)
        return gaussian_blur(x, params["sigma"], kernel_side(self.size))

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        _, _, h, w = images.shape
        return self.apply(images, self.draw(images.shape[0], h, w, generator))


def kernel_side(size: tuple[int, int]) -> int:
    """Blur kernel side: ~10 % of the smaller image side, odd, at least 3."""
    side = max(3, int(round(0.1 * min(size))))
    return side if side % 2 else side + 1


def _col(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-image (B,) tensor moved to ``like``'s device and shaped to broadcast over (B,C,H,W)."""
    return mask.to(like.device).view(-1, 1, 1, 1)


def _crop_boxes(batch: int, height: int, width: int, scale: tuple[float, float],
                ratio: tuple[float, float], g: torch.Generator) -> torch.Tensor:
    """(B, 4) boxes (x0, y0, w, h) in pixels, drawn as torchvision's RandomResizedCrop does:
    up to 10 tries of (area, log-uniform aspect); the first that fits wins, else the whole image."""
    area = height * width
    target = area * (scale[0] + (scale[1] - scale[0]) * torch.rand(batch, CROP_ATTEMPTS,
                                                                   generator=g))
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * torch.rand(batch, CROP_ATTEMPTS, generator=g))
    w = torch.sqrt(target * aspect)
    h = torch.sqrt(target / aspect)
    fits = (w <= width) & (h <= height)
    first = torch.argmax(fits.to(torch.int8), dim=1, keepdim=True)
    any_fit = fits.any(dim=1)
    w = torch.where(any_fit, w.gather(1, first).squeeze(1), float(width))
    h = torch.where(any_fit, h.gather(1, first).squeeze(1), float(height))
    pos = torch.rand(batch, 2, generator=g)
    x0 = pos[:, 0] * (width - w)
    y0 = pos[:, 1] * (height - h)
    return torch.stack([x0, y0, w, h], dim=1)


def resized_crop(x: torch.Tensor, box: torch.Tensor, flip: torch.Tensor,
                 size: tuple[int, int]) -> torch.Tensor:
    """Crop each image to its box (x0, y0, w, h in pixels), mirror where ``flip``, resize to
    ``size`` bilinearly: one ``affine_grid`` + ``grid_sample`` for the whole batch."""
    b, c, height, width = x.shape
    box = box.to(device=x.device, dtype=torch.float32)
    x0, y0, w, h = box.unbind(1)
    sign = 1 - 2 * flip.to(device=x.device, dtype=torch.float32)
    theta = torch.zeros(b, 2, 3, device=x.device)
    theta[:, 0, 0] = sign * w / width
    theta[:, 0, 2] = (2 * x0 + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * y0 + h) / height - 1
    grid = F.affine_grid(theta, [b, c, size[0], size[1]], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma; gray input is returned as is."""
    if x.shape[1] == 1:
        return x
    r, g, b = x.unbind(1)
    return (LUMA[0] * r + LUMA[1] * g + LUMA[2] * b).unsqueeze(1)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor * a + (1 - factor) * b).clamp_(0, 1)


def adjust(x: torch.Tensor, kind: str, factor: torch.Tensor) -> torch.Tensor:
    """One colour-jitter operation with a per-image factor (B,) on the same device as ``x``."""
    f = factor.view(-1, 1, 1, 1)
    if kind == "brightness":
        return (x * f).clamp_(0, 1)
    if kind == "contrast":
        mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
        return _blend(x, mean, f)
    if x.shape[1] == 1:                                       # saturation, hue: gray unchanged
        return x
    if kind == "saturation":
        return _blend(x, grayscale(x), f)
    return shift_hue(x, factor)


def color_jitter(x: torch.Tensor, on: torch.Tensor, factors: torch.Tensor,
                 order: torch.Tensor) -> torch.Tensor:
    """Apply the four jitter operations to the images with ``on``, each image in its own
    ``order``: at every position, each operation runs once on the images that have it there."""
    x = x.clone()
    for position in range(4):
        for op, kind in enumerate(JITTERS):
            rows = torch.nonzero(on & (order[:, position] == op)).flatten()
            if len(rows) == 0 or (x.shape[1] == 1 and kind in ("saturation", "hue")):
                continue
            idx = rows.to(x.device)
            x[idx] = adjust(x[idx], kind, factors[rows, op].to(x.device))
    return x


def shift_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue of RGB images by ``shift`` (B,) turns, through HSV."""
    r, g, b = x.unbind(1)
    maxc, argmax = x.max(dim=1)
    minc = x.min(dim=1).values
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4], dim=1)
    h = h.gather(1, argmax.unsqueeze(1)).squeeze(1) / 6
    h = torch.where(delta > 0, h, torch.zeros_like(h))
    s = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)),
                    torch.zeros_like(maxc))
    h = (h + shift.view(-1, 1, 1)) % 1.0
    return hsv_to_rgb(h, s, maxc)


def hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B, H, W) hue in [0, 1), saturation, value -> (B, 3, H, W) RGB."""
    h6 = h * 6
    sector = torch.floor(h6).long() % 6
    f = h6 - torch.floor(h6)
    p = v * (1 - s)
    q = v * (1 - s * f)
    t = v * (1 - s * (1 - f))
    # rows: sectors 0..5; columns: (r, g, b) as indices into (v, t, p, q)
    table = torch.tensor([[0, 1, 2], [3, 0, 2], [2, 0, 1], [2, 3, 0], [1, 2, 0], [0, 2, 3]],
                         device=h.device)
    choices = torch.stack([v, t, p, q], dim=1)                  # (B, 4, H, W)
    pick = table[sector].permute(0, 3, 1, 2)                    # (B, 3, H, W)
    return choices.gather(1, pick).clamp_(0, 1)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, side: int) -> torch.Tensor:
    """Separable Gaussian blur with a per-image ``sigma`` (B,); sigma 0 leaves the image as is.
    ``side`` (odd) must be smaller than twice the image side (reflect padding)."""
    b, c, h, w = x.shape
    radius = side // 2
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    sig = sigma.float().clamp(min=1e-6).view(-1, 1)
    kernel = torch.exp(-offsets.view(1, -1) ** 2 / (2 * sig**2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    kernel = torch.where((sigma > 0).view(-1, 1), kernel, (offsets == 0).float().view(1, -1))
    kernel = kernel.to(x.device).repeat_interleave(c, dim=0)     # (B*C, side)
    flat = x.reshape(1, b * c, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"),
                    kernel[:, None, None, :], groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"),
                    kernel[:, None, :, None], groups=b * c)
    return flat.view(b, c, h, w)
