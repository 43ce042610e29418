"""Training augmentation for fine-tuning, chosen per dataset from ``ImageData.modality``.

The paper fine-tunes "with the data augmentation described in the original papers that proposed
each dataset". Presets (``FinetuneConfig.augment = "auto"`` picks by modality; a preset name or
operations joined by ``+``, e.g. ``hflip+shift``, override it):

| modality | preset | operations | source |
|---|---|---|---|
| histology (PCam) | dihedral | h-flip, v-flip, 90-degree rotations | [1] |
| wafer (WM-811K) | dihedral | h-flip, v-flip, 90-degree rotations | [2] |
| electroluminescence (ELPV) | dihedral | h-flip, v-flip, 90-degree rotations | [3] |
| thermal (FLIR, solar modules) | light | h-flip, shift up to 1/8 of the side | [4] |
| retina (DR) | light | h-flip, shift up to 1/8 of the side | [4] |
| xray, microscopy (MedMNIST) | none | - | [5] |
| unknown | hflip | h-flip | a safe default |

[1] Veeling et al. 2018, the PCam paper: histology patches have no orientation, and their models
    build in exactly this rotation/flip symmetry.
[2] Wafer maps have no preferred orientation; Wu et al. 2015 (WM-811K) used rotation-invariant
    features, and CNN work on WM-811K augments with flips and rotations.
[3] Our choice: cells are square and symmetric (Deitsch et al. 2019's recipe not reproduced).
[4] Our choice of a light augmentation: the FLIR dataset release gives no training recipe, and
    Wang & Yang 2018's (DR) was not reproduced.
[5] MedMNIST v2 (Yang et al. 2023) trained its baselines without augmentation.

Rotations by 90 degrees apply to square images only (a rectangle keeps its flips, which include
the 180-degree rotation). Shifts move the image by whole pixels and repeat the border pixels.
Every image of a batch draws its own parameters (on the CPU, from the given generator, then moved
to the images' device), and the work is vectorised over the batch on uint8 tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from synthcl.errors import SynthclError

OPS = ("hflip", "vflip", "rot90", "shift")
PRESETS = {
    "none": (),
    "hflip": ("hflip",),
    "light": ("hflip", "shift"),
    "dihedral": ("hflip", "vflip", "rot90"),
}
MODALITY_PRESETS = {
    "histology": "dihedral",
    "wafer": "dihedral",
    "electroluminescence": "dihedral",
    "thermal": "light",
    "retina": "light",
    "xray": "none",
    "microscopy": "none",
    "unknown": "hflip",
}
SHIFT_FRACTION = 0.125


@dataclass(frozen=True)
class Augmentation:
    """Random flips / 90-degree rotations / shifts of uint8 (B, C, H, W) batches."""

    name: str
    ops: tuple[str, ...]
    shift_fraction: float = SHIFT_FRACTION

    def describe(self) -> dict:
        return {"name": self.name, "ops": list(self.ops), "shift_fraction": self.shift_fraction}

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, _, h, w = images.shape
        out = images

        def coin() -> torch.Tensor:
            flips = torch.rand(b, generator=generator) < 0.5
            return flips.to(images.device).view(b, 1, 1, 1)

        if "rot90" in self.ops and h == w:
            # transpose x h-flip x v-flip spans the 8 rotations/reflections, each equally likely
            out = torch.where(coin(), out.transpose(-1, -2), out)
        if "hflip" in self.ops:
            out = torch.where(coin(), out.flip(-1), out)
        if "vflip" in self.ops:
            out = torch.where(coin(), out.flip(-2), out)
        if "shift" in self.ops:
            out = self._shift(out, generator)
        return out

    def _shift(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, c, h, w = images.shape
        sy, sx = (max(1, round(self.shift_fraction * side)) for side in (h, w))
        dy = torch.randint(-sy, sy + 1, (b, 1), generator=generator)
        dx = torch.randint(-sx, sx + 1, (b, 1), generator=generator)
        rows = (torch.arange(h).view(1, h) + dy).clamp_(0, h - 1).to(images.device)
        cols = (torch.arange(w).view(1, w) + dx).clamp_(0, w - 1).to(images.device)
        out = images.gather(2, rows.view(b, 1, h, 1).expand(b, c, h, w))
        return out.gather(3, cols.view(b, 1, 1, w).expand(b, c, h, w))


def resolve_augmentation(spec: str, modality: str = "unknown") -> Augmentation:
    """``auto`` (the modality's preset), a preset name, or operations joined by ``+``."""
    spec = spec.strip().lower()
    if spec == "auto":
        name = MODALITY_PRESETS.get(modality, MODALITY_PRESETS["unknown"])
        return Augmentation(name, PRESETS[name])
    if spec in PRESETS:
        return Augmentation(spec, PRESETS[spec])
    ops = tuple(op.strip() for op in spec.split("+") if op.strip())
    unknown = [op for op in ops if op not in OPS]
    if unknown or not ops:
        raise SynthclError(
            f"--augment {spec}: unknown; use auto, a preset ({', '.join(PRESETS)}) or "
            f"operations joined by '+' ({', '.join(OPS)}), e.g. hflip+shift")
    return Augmentation(spec, tuple(dict.fromkeys(ops)))
