"""Fair small-N pre-training: batch, queue and steps fitted to the distinct instances, and no
query ever scored against a negative of its own instance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from synthcl.data import ImageData, Split
from synthcl.errors import SynthclError
from synthcl.pretraining import PretrainConfig, pretrain
from synthcl.pretraining.moco import MoCo
from synthcl.pretraining.schedule import EpochSampler
from synthcl.pretraining.sizing import fit_to_instances


def config(**kw) -> PretrainConfig:
    return PretrainConfig(**{"batch_size": 64, "queue_size": 256, "steps": 600, **kw})


def test_forty_real_images_get_half_batches_a_queue_of_the_rest_and_the_same_pairs():
    sizing = fit_to_instances(config(), 40)
    assert (sizing.batch, sizing.queue, sizing.steps) == (20, 20, 1920)
    assert sizing.steps * sizing.batch == 600 * 64
    assert "batch 20 (asked 64)" in sizing.note and "queue 20 (asked 256)" in sizing.note


def test_a_large_synthetic_set_keeps_the_asked_settings():
    sizing = fit_to_instances(config(), 40 * 64)
    assert (sizing.batch, sizing.queue, sizing.steps, sizing.note) == (64, 256, 600, None)


def test_only_the_queue_shrinks_when_the_batch_fits():
    sizing = fit_to_instances(config(warmup_steps=10), 300)
    assert (sizing.batch, sizing.queue, sizing.steps, sizing.warmup_steps) == (64, 236, 600, 10)


def test_warmup_scales_with_the_steps_and_batches_stay_a_multiple_of_the_processes():
    sizing = fit_to_instances(config(warmup_steps=10), 42, world=4)
    assert sizing.batch == 20 and sizing.queue == 22 and sizing.warmup_steps == 32


def test_literal_sizing_keeps_the_papers_settings_and_too_few_instances_are_refused():
    assert fit_to_instances(config(sizing="literal"), 40).batch == 64
    with pytest.raises(SynthclError, match="sizing=literal"):
        fit_to_instances(config(), 3)


@pytest.mark.parametrize("size, batch", [(40, 20), (40, 16), (45, 8), (7, 3)])
def test_the_sampler_never_repeats_an_instance_within_a_batch(size, batch):
    sampler = EpochSampler(size, batch, seed=3)
    per_epoch = size // batch
    seen = []
    for step in range(5 * per_epoch):
        ids = sampler.indices(step)
        assert len(ids) == batch and len(set(ids.tolist())) == batch
        seen += ids.tolist()
    for epoch in range(5):                    # an epoch visits distinct instances
        chunk = seen[epoch * per_epoch * batch:(epoch + 1) * per_epoch * batch]
        assert len(set(chunk)) == len(chunk)


def forty_images() -> ImageData:
    """40 training images (20 per class), 16x16 RGB, seeded."""
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        return Split(rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8),
                     (np.arange(n) % 2).astype(np.int64))

    return ImageData("forty", "arrays", "memory", ("a", "b"),
                     {"train": split(40), "val": split(0), "test": split(4)})


MODES_OF_40 = {                             # settings giving each mode 40 distinct instances
    "ours": {"n": 8, "m": 5},
    "cl-real": {"n": 40},
    "cl-aug": {"n": 40},
    "cl-all": {"n": 8},
    "universal": {"n": 8, "universal_size": 40},
}


@pytest.mark.parametrize("sizing", ["fair", "literal"])
@pytest.mark.parametrize("mode", list(MODES_OF_40))
def test_no_query_is_scored_against_a_negative_of_its_own_instance(tmp_path, monkeypatch,
                                                                    mode, sizing):
    scored = []
    logits_of = MoCo.logits

    def recording(self, q, k, ids=None):
        logits = logits_of(self, q, k, ids)
        scored.append((ids.clone(), self.queue_ids.clone(), logits.detach().clone()))
        return logits

    monkeypatch.setattr(MoCo, "logits", recording)
    queue = 64 if sizing == "literal" else 256          # literal: a queue longer than the set
    run = PretrainConfig(mode=mode, generator="patchshuffle", d=2, width=4, steps=12,
                         batch_size=16, queue_size=queue, sizing=sizing, lr=1e-3,
                         device="cpu", out=str(tmp_path / "run"), monitor_every=1000,
                         checkpoint_every=1000, **MODES_OF_40[mode])
    with pytest.warns(UserWarning) if sizing == "fair" else _nothing():
        result = pretrain(run, forty_images())
    assert len(scored) == result.steps >= 12
    own_in_queue = 0
    for ids, queue_ids, logits in scored:
        assert len(set(ids.tolist())) == len(ids)               # no instance twice in a batch
        own = queue_ids.unsqueeze(0) == ids.unsqueeze(1)
        own_in_queue += int(own.sum())
        negatives = logits[:, 1:]
        assert torch.isneginf(negatives[own]).all()             # own keys score nothing
        assert torch.isfinite(negatives[~own]).all()
        assert torch.isfinite(logits[:, 0]).all()
    if sizing == "literal":                  # the mask is really exercised there
        assert own_in_queue > 0
    assert math.isfinite(result.final_loss)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_epochs_count_passes_over_the_instances_at_the_batch_used():
    sizing = fit_to_instances(config(epochs=2.0), 40)
    assert (sizing.batch, sizing.queue, sizing.steps) == (20, 20, 4)
    assert fit_to_instances(config(epochs=1.0), 40 * 64).steps == 40
    assert fit_to_instances(config(epochs=1.0, sizing="literal"), 40).steps == 1
