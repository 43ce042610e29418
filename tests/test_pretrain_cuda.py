"""Pre-training on a CUDA device: bf16 autocast + channels_last, and CPU/GPU agreement."""

import math

import pytest
import torch

from synthcl.pretraining import PretrainConfig, pretrain
from synthcl.synthetic.deadleaves import dead_leaves

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("amp", [True, False])
def test_universal_pre_training_runs_on_cuda(tmp_path, pneumonia_npz, amp):
    config = PretrainConfig(data=str(pneumonia_npz), image_size="32", mode="universal", n=8,
                            width=16, steps=20, batch_size=64, queue_size=128, device="cuda",
                            amp=amp, channels_last=amp, universal_size=2000,
                            out=str(tmp_path / "run"))
    result = pretrain(config)
    assert result.steps == 20 and math.isfinite(result.final_loss)
    state = torch.load(result.backbone_path, weights_only=True)
    assert all(v.device.type == "cpu" for v in state.values())


def test_dead_leaves_on_cuda_match_the_cpu():
    cpu = dead_leaves(range(16), 0, 32, 32)
    gpu = dead_leaves(range(16), 0, 32, 32, device="cuda").cpu()
    # the same shapes; float rounding may flip a pixel lying exactly on a shape's edge
    assert (cpu == gpu).all(dim=1).float().mean() > 0.999
