"""Fine-tuning on a CUDA device, probes included, from scratch and (LP-FT) from a pre-trained
backbone."""

import math

import pytest
import torch

from baseline_case import case_data
from synthcl.finetune import FinetuneConfig, finetune_seed
from synthcl.pretraining import PretrainConfig, pretrain

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_finetune_seed_runs_on_cuda_with_probes_of_both_starts(tmp_path):
    data = case_data()
    pretrained = pretrain(PretrainConfig(mode="ours", generator="randomcrop", d=2, n=8, m=8,
                                         width=8, steps=4, batch_size=8, queue_size=16,
                                         device="cuda", out=str(tmp_path / "pre")), data)
    for init in ("scratch", pretrained.backbone_path):
        config = FinetuneConfig(n=8, init=str(init), width=8, epochs=2, lr_step=1,
                                batch_sizes=[4], lrs=[0.01], device="cuda", eval_batch_size=8,
                                probe_head=init != "scratch")     # LP-FT from the pre-training
        result = finetune_seed(config, data, 0)
        assert 0.0 <= result["balanced_accuracy"] <= 1.0 and math.isfinite(result["val_loss"])
        starts = {"random"} if init == "scratch" else {"random", "pretrained"}
        assert set(result["probes"]) == starts
        assert all(0.0 <= p["linear"]["accuracy"] <= 1.0 for p in result["probes"].values())
