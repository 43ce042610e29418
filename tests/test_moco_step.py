"""Mechanics of one MoCo v2 step (Trainer.train_step) and of the schedules, on stubs: step order,
key un-shuffling, negatives and the own-instance mask, warm-up/cosine learning rate, shuffle-BN
groups, and the fine-tuning schedule (SGD momentum 0.9, x0.1 every lr_step epochs)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from synthcl.errors import SynthclError
from synthcl.pretraining.distributed import Processes, shuffled_keys
from synthcl.pretraining.schedule import learning_rate, resolve_bn_splits
from synthcl.pretraining.trainer import Trainer
from test_moco import tiny_moco

ONE = Processes(0, 1, torch.device("cpu"))


def test_keys_are_computed_on_the_permuted_batch_and_returned_in_row_order():
    images = torch.arange(6.0).view(6, 1)
    seen = []

    def encode(x):                    # a batch-dependent stub: BN-like centring on its input
        seen.append(x.clone())
        return torch.cat([x, x - x.mean(0, keepdim=True)], dim=1)

    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    keys = shuffled_keys(encode, images, perm, ONE)
    assert torch.equal(seen[0], images[perm])                     # encoded in permuted order
    assert torch.equal(keys[:, 0], images[:, 0])                  # ... and put back in order


def test_logits_score_the_positive_first_the_queue_after_and_mask_own_instances():
    model = tiny_moco(queue_size=3, dim=2, temperature=0.5)
    model.queue.copy_(torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]]))
    model.queue_ids.copy_(torch.tensor([7, 8, 9]))
    q = torch.tensor([[2.0, 0.0], [0.0, 3.0]])                     # normalised to unit rows
    k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    logits = model.logits(q, k, torch.tensor([9, 5]))
    assert logits[0].tolist() == [2.0, 2.0, 0.0, float("-inf")]    # own key (id 9) masked
    assert logits[1].tolist() == [2.0, 0.0, 2.0, 0.0]
    assert model.loss(logits).isfinite()


def recording_trainer(monkeypatch, calls):
    """A Trainer shell around a tiny MoCo whose parts record the order they run in."""
    model = tiny_moco(queue_size=8, dim=4)
    trainer = Trainer.__new__(Trainer)
    trainer.config = SimpleNamespace(lr=0.1, warmup_steps=0, steps=10)
    trainer.procs, trainer.device, trainer.amp = ONE, torch.device("cpu"), False
    trainer.model, trainer.query_net = model, model.encoder_q
    trainer.encode = trainer.encode_eager
    trainer.optimizer = torch.optim.SGD(model.encoder_q.parameters(), lr=0.1)

    def wrap(owner, name):
        original = getattr(owner, name)

        def recorded(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)

    for name in ("momentum_update", "keys", "logits", "enqueue"):
        wrap(model, name)
    wrap(trainer.optimizer, "step")
    model.encoder_q.register_forward_hook(lambda *_: calls.append("queries"))
    return trainer


def test_one_step_runs_in_the_reference_order_and_enqueues_the_batch(monkeypatch):
    calls: list[str] = []
    trainer = recording_trainer(monkeypatch, calls)
    views = torch.randn(4, 3, 8, 8)
    ids = torch.tensor([0, 1, 2, 3])
    loss = trainer.train_step(0, (views, views + 0.1, torch.tensor([2, 0, 3, 1]), ids))
    assert math.isfinite(loss)
    assert calls == ["momentum_update", "keys", "queries", "logits", "step", "enqueue"]
    assert trainer.model.queue_ids[:4].tolist() == [0, 1, 2, 3]
    assert int(trainer.model.queue_ptr) == 4
    assert trainer.optimizer.param_groups[0]["lr"] == learning_rate(trainer.config, 0)


def test_learning_rate_warms_up_linearly_then_decays_by_a_cosine_to_zero():
    config = SimpleNamespace(lr=1.0, warmup_steps=4, steps=104)
    assert [learning_rate(config, t) for t in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert learning_rate(config, 4) == pytest.approx(1.0)
    assert learning_rate(config, 54) == pytest.approx(0.5)
    assert learning_rate(config, 104) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(SimpleNamespace(lr=2.0, warmup_steps=0, steps=10), 0) == 2.0


@pytest.mark.parametrize("batch, world, splits", [(256, 1, 8), (128, 1, 4), (64, 1, 2),
                                                  (48, 1, 1), (20, 1, 1), (256, 2, 8),
                                                  (64, 2, 2)])
def test_shuffle_bn_groups_keep_at_least_32_images_and_one_group_per_process(batch, world,
                                                                             splits):
    assert resolve_bn_splits(0, batch, world) == splits
    assert resolve_bn_splits(4, 64, 1) == 4                 # asked explicitly


def test_shuffle_bn_groups_that_do_not_divide_the_batch_are_refused():
    with pytest.raises(SynthclError, match="do not divide evenly"):
        resolve_bn_splits(3, 64, 1)


def test_fine_tuning_uses_sgd_momentum_and_divides_the_rate_by_ten_every_lr_step(monkeypatch):
    from synthcl.finetune import train

    rates, made = [], {}
    sgd = torch.optim.SGD

    def recording_sgd(params, **kwargs):
        made.update(kwargs)
        optimizer = sgd(params, **kwargs)
        optimizer.register_step_pre_hook(
            lambda opt, args, kw: rates.append(opt.param_groups[0]["lr"]))
        return optimizer

    monkeypatch.setattr(train.torch.optim, "SGD", recording_sgd)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    images = torch.randint(0, 255, (4, 3, 4, 4), dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0, 1])
    settings = train.TrainSettings(epochs=7, lr_step=3, momentum=0.9, weight_decay=1e-4,
                                   device=torch.device("cpu"), amp=False, channels_last=False,
                                   eval_batch_size=8)
    train.train_configuration(model, images, labels, images, labels,
                              train.HyperParams(4, 0.05), settings, lambda x, g: x, seed=0)
    assert made == {"lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4}
    assert rates == pytest.approx([0.05] * 3 + [0.005] * 3 + [0.0005])
