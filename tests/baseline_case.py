"""A tiny fixed-seed pre-training and fine-tuning whose values were recorded before the package
moves of the architecture redesign (``test_behaviour_unchanged.py`` compares against them)."""

from __future__ import annotations

import numpy as np
import torch

from synthcl.data import ImageData, Split


def case_data() -> ImageData:
    """Two classes of 16x16 RGB images: bright squares vs dark stripes, plus noise (seeded)."""
    rng = np.random.default_rng(1234)

    def split(n: int) -> Split:
        labels = np.arange(n) % 2
        images = rng.integers(0, 60, (n, 16, 16, 3)).astype(np.uint8)
        images[labels == 0, 4:12, 4:12] += 150
        images[labels == 1, :, ::3] += 120
        return Split(images, labels.astype(np.int64))

    return ImageData("case", "arrays", "memory", ("a", "b"),
                     {"train": split(32), "val": split(0), "test": split(16)})


def pretrain_values(data: ImageData, out: str) -> dict:
    from synthcl.pretraining import PretrainConfig, pretrain

    config = PretrainConfig(mode="ours", generator="randomcrop", d=2, n=8, m=8, width=8, steps=6,
                            batch_size=8, queue_size=16, device="cpu", out=out, lr=1e-3,
                            deterministic=True, amp=False, sizing="literal",
                            checkpoint_every=100, monitor_every=100)
    result = pretrain(config, data)
    backbone = torch.load(result.backbone_path, weights_only=True)
    return {"loss": round(result.final_loss, 5),
            "weight_sum": round(float(sum(v.double().abs().sum() for v in backbone.values()
                                          if v.is_floating_point())), 3)}


def finetune_values(data: ImageData, init: str) -> dict:
    from synthcl.finetune import FinetuneConfig, finetune_seed

    config = FinetuneConfig(n=8, init=init, width=8, epochs=3, lr_step=2, batch_sizes=[4],
                            lrs=[0.01], device="cpu", amp=False, eval_batch_size=8)
    result = finetune_seed(config, data, 0)
    return {"accuracy": result["accuracy"], "val_loss": round(result["val_loss"], 5),
            "train_loss": [round(x, 5) for x in result["train_loss_curve"]]}
