"""The CPU speed paths compute what the reference path does: bf16 autocast (with channels_last,
the dense small-input convolutions and the fused optimizer) gives fp32's losses within rounding,
and ``compile`` either works or falls back to eager."""

import math

import numpy as np
import pytest
import torch

from synthcl.data import ImageData, Split
from synthcl.pretraining import PretrainConfig
from synthcl.pretraining.distributed import setup
from synthcl.pretraining.trainer import Trainer
from synthcl.utils.devices import cpu_has_native_bf16


def noise(count: int = 64, size: int = 16) -> ImageData:
    rng = np.random.default_rng(0)
    split = Split(rng.integers(0, 256, (count, size, size, 3), dtype=np.uint8),
                  np.arange(count) % 2)
    return ImageData("noise", "memory", "memory", ("a", "b"),
                     {"train": split, "val": split.subset(np.arange(16)), "test": split})


def trainer(tmp_path, **kw) -> Trainer:
    config = PretrainConfig(mode="cl-all", n=4, width=8, steps=10, batch_size=16, queue_size=32,
                            device="cpu", out=str(tmp_path), **kw)
    return Trainer(config, noise(), setup("cpu"))


def first_loss(t: Trainer) -> float:
    return t.train_step(0, t.make_batch(0))


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_bf16_step_gives_the_fp32_loss_within_rounding(tmp_path):
    fast, exact = trainer(tmp_path, amp=True), trainer(tmp_path, amp=False)
    assert fast.amp and fast.channels_last
    assert not exact.amp and not exact.channels_last     # channels_last only pays with bf16
    assert fast.optimizer.defaults["fused"] and not exact.optimizer.defaults["fused"]
    for step in range(4):                                 # 16 px: layer4 at 2x2 runs dense
        fast_loss = fast.train_step(step, fast.make_batch(step))
        exact_loss = exact.train_step(step, exact.make_batch(step))
        assert math.isfinite(fast_loss) and abs(fast_loss - exact_loss) < 0.05
    assert fast_loss != exact_loss                        # bf16 did run


def test_deterministic_stays_fp32_eager(tmp_path):
    t = trainer(tmp_path, amp=True, compile=True, deterministic=True)
    assert not t.amp and not t.channels_last and t.encode == t.encode_eager
    assert not t.optimizer.defaults["fused"]


def failing_backend(graph, example_inputs):
    raise RuntimeError("no compiler here")


def test_a_failed_compilation_warns_and_continues_eager(tmp_path):
    compiled, eager = trainer(tmp_path, amp=False), trainer(tmp_path, amp=False)
    compiled.encode = torch.compile(compiled.encode_eager, backend=failing_backend)
    with pytest.warns(UserWarning, match="torch.compile failed.*continues eager"):
        loss = first_loss(compiled)
    assert compiled.encode == compiled.encode_eager
    assert loss == first_loss(eager)

