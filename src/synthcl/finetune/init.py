"""The classifier a fine-tuning starts from (``FinetuneConfig.init``, read by
:func:`synthcl.weights.read_init`).

- ``scratch``: random weights (torchvision's initialisation), seeded: the same seed gives the same
  network, two seeds give different ones.
- loaded weights (a synthcl pre-training, ImageNet, MoCo, a backbone state dict): the architecture
  (arch, width, stem) is read from the weights themselves; an arch/width/small_stem the user
  explicitly gave that contradicts them is an error. ImageNet and MoCo weights keep their own stem
  (7x7 convolution at stride 2 and max-pool) even for small images: the stem's pre-trained
  weights are used as they are, and a 28x28 input reaches layer4 at 1x1 (pass ``--image-size``
  to upsample small images instead). Every load checks the backbone's keys and shapes and names
  the missing, unexpected or mis-shaped ones.
"""

from __future__ import annotations

from collections.abc import Collection

import torch

from synthcl.errors import SynthclError
from synthcl.finetune.classifier import Classifier
from synthcl.models import build_backbone
from synthcl.weights import InitWeights, load_backbone

ARCH_FIELDS = ("arch", "width", "small_stem")


def resolve_architecture(weights: InitWeights, arch: str, width: int, small_stem: bool | None,
                         explicit: Collection[str] = ()) -> dict:
    """The backbone to build: the given settings for scratch, the weights' own otherwise.

    ``explicit`` names the settings the user gave (command line, ``--set``, config file); one of
    them contradicting the weights is an error. Settings merely left at (or inherited as) a value
    are overridden by the weights, and the result records the architecture used.
    """
    asked = {"arch": arch, "width": width, "small_stem": small_stem}
    if weights.architecture is None:
        return asked
    held = weights.architecture
    clashes = [name for name in ARCH_FIELDS
               if name in explicit and asked[name] is not None and asked[name] != held[name]]
    if clashes:
        given = ", ".join(f"--{n.replace('_', '-')} {asked[n]}" for n in clashes)
        raise SynthclError(
            f"--init {weights.path}: the weights hold a {_describe(held)}, but {given} was asked; "
            f"drop {' and '.join('--' + n.replace('_', '-') for n in clashes)} (a checkpoint's "
            "architecture is read from its weights) or choose a checkpoint of that architecture")
    return dict(held)


def initialised_classifier(weights: InitWeights, architecture: dict, num_classes: int,
                           image_hw: tuple[int, int], seed: int) -> Classifier:
    """The classifier (on the CPU): a seeded random network, then the loaded backbone weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = build_backbone(architecture["arch"], architecture["width"],
                                  architecture["small_stem"], image_hw=image_hw)
        model = Classifier(backbone, num_classes)
    if weights.backbone is not None:
        load_backbone(model.backbone, weights.backbone, weights.path or weights.kind)
    return model


def _describe(architecture: dict) -> str:
    stem = "small (3x3) stem" if architecture["small_stem"] else "standard (7x7) stem"
    return f"{architecture['arch']} of width {architecture['width']} with the {stem}"
