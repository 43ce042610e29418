"""The classifier (backbone + linear head), batched prediction, and the fine-tuned model file.

``model.pt`` (``"format": "synthcl-finetune-v1"``, written and read by :mod:`synthcl.weights`)
holds the classifier's weights and everything needed to use and reproduce it: architecture, class
names, image size, input normalisation, the data settings (a relative data path relative to the
file), the run's configuration and its result (chosen hyper-parameters, validation curve, wall
time). It loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from torch import nn

from synthcl import weights
from synthcl.models import build_backbone, to_input
from synthcl.models.resnet import IMAGENET_MEAN, IMAGENET_STD
from synthcl.utils.progress import progress


class Classifier(nn.Module):
    """``backbone`` features -> ``head`` (Linear) logits."""

    def __init__(self, backbone: nn.Module, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``amp``; nothing on the CPU."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def network_input(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 (B, C, H, W) -> normalised float input, channels-last on CUDA when asked."""
    x = to_input(images)
    if channels_last and x.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def predict_logits(model: nn.Module, images: torch.Tensor, device: torch.device, *,
                   batch_size: int = 512, amp: bool = True, channels_last: bool = True,
                   desc: str | None = None) -> torch.Tensor:
    """float32 logits (n, k) on the CPU for uint8 images (n, C, H, W) on any device, in eval mode.

    Batches move to ``device`` one at a time, so a large test split need not fit there at once.
    """
    model.eval()
    chunks = []
    starts = range(0, len(images), batch_size)
    bar = progress(starts, desc=desc, unit="batch") if desc else starts
    with torch.inference_mode(), autocast(device, amp):
        for start in bar:
            batch = images[start:start + batch_size].to(device, non_blocking=True)
            chunks.append(model(network_input(batch, channels_last)).float().cpu())
    if not chunks:
        return torch.empty(0, 0)
    return torch.cat(chunks)


def save_model(path: str | Path, model: Classifier, *, architecture: dict,
               class_names: list[str], image_hw: tuple[int, int], channels: int, data: dict,
               config: dict, result: dict) -> None:
    """Write the fine-tuned model file (atomically)."""
    weights.save_model(path, {
        "classifier": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "architecture": dict(architecture),
        "class_names": list(class_names),
        "image_hw": list(image_hw),
        "channels": channels,
        "normalization": {"scale": "uint8 / 255", "mean": list(IMAGENET_MEAN),
                          "std": list(IMAGENET_STD), "grayscale": "replicated to 3 channels"},
        "data": data,
        "config": config,
        "result": result,
    })


def load_model(path: str | Path) -> tuple[Classifier, dict]:
    """A fine-tuned classifier (CPU, eval mode) and its metadata; ``path`` = model.pt or a folder
    holding one (see :func:`synthcl.weights.load_model`)."""
    _, meta = weights.load_model(path)
    arch = meta["architecture"]
    backbone = build_backbone(arch["arch"], arch["width"], arch["small_stem"])
    model = Classifier(backbone, len(meta["class_names"]))
    model.load_state_dict(meta["classifier"])
    model.eval()
    return model, meta
