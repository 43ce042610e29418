"""MoCo v2 pieces on tiny inputs: queue, momentum update, logits, loss at chance, shuffle-BN."""

import math

import pytest
import torch
import torch.nn.functional as F

from synthcl.models import build_backbone, normalize
from synthcl.pretraining.augment import Augment
from synthcl.pretraining.moco import MoCo, SplitBatchNorm2d, split_batchnorm


def tiny_moco(queue_size=8, dim=4, momentum=0.9, temperature=0.2, bn_splits=1, seed=0):
    torch.manual_seed(seed)
    backbone = build_backbone("resnet18", width=4, small_stem=True)
    return MoCo(backbone, dim=dim, queue_size=queue_size, momentum=momentum,
                temperature=temperature, bn_splits=bn_splits,
                generator=torch.Generator().manual_seed(seed))


def test_queue_enqueues_in_order_and_wraps_over_the_oldest():
    model = tiny_moco(queue_size=5, dim=2)
    first = torch.arange(6.0).view(3, 2)
    model.enqueue(first)
    assert torch.equal(model.queue[:, :3], first.T)
    assert int(model.queue_ptr) == 3
    second = 10 + torch.arange(6.0).view(3, 2)
    model.enqueue(second)                      # slots 3, 4, then wraps to 0
    assert torch.equal(model.queue[:, 3:5], second[:2].T)
    assert torch.equal(model.queue[:, 0], second[2])
    assert torch.equal(model.queue[:, 1:3], first[1:].T)   # older entries untouched
    assert int(model.queue_ptr) == 1


def test_too_many_keys_for_the_queue_is_an_error():
    with pytest.raises(ValueError):
        tiny_moco(queue_size=2, dim=2).enqueue(torch.zeros(3, 2))


def test_momentum_update_is_exactly_m_k_plus_one_minus_m_q():
    model = tiny_moco(momentum=0.75)
    with torch.no_grad():
        for p in model.encoder_q.parameters():
            p.add_(torch.randn_like(p))
    before_k = [p.clone() for p in model.encoder_k.parameters()]
    q = [p.detach().clone() for p in model.encoder_q.parameters()]
    model.momentum_update()
    for k_new, k_old, q_p in zip(model.encoder_k.parameters(), before_k, q, strict=True):
        assert torch.equal(k_new, 0.75 * k_old + (1 - 0.75) * q_p)
    assert not any(p.requires_grad for p in model.encoder_k.parameters())


def test_logits_put_the_positive_at_index_zero():
    model = tiny_moco(queue_size=6, dim=4, temperature=0.5)
    q = F.normalize(torch.randn(3, 4), dim=1)
    k = F.normalize(torch.randn(3, 4), dim=1)
    logits = model.logits(q, k)
    assert logits.shape == (3, 7)
    assert torch.allclose(logits[:, 0], (q * k).sum(1) / 0.5)
    assert torch.allclose(logits[:, 1:], q @ model.queue / 0.5)
    # a query equal to its key beats every negative, so the loss is minimal at index 0
    assert torch.equal(model.logits(k, k).argmax(1), torch.zeros(3, dtype=torch.long))


def test_loss_of_a_random_network_is_close_to_log_k_plus_one():
    """With the queue filled by the same random network, a positive scores like a negative."""
    model = tiny_moco(queue_size=1024, dim=128, temperature=0.2)
    augment = Augment((16, 16))
    g = torch.Generator().manual_seed(1)
    for _ in range(1024 // 64):
        noise = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8, generator=g)
        model.enqueue(model.keys(normalize(augment(noise, g))))
    images = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8, generator=g)
    with torch.no_grad():
        q = model.encoder_q(normalize(augment(images, g)))
    k = model.keys(normalize(augment(images, g)))
    loss = float(model.loss(model.logits(q, k)))
    assert abs(loss - math.log(1024 + 1)) < 0.1


def test_loss_with_uniform_logits_is_exactly_log_k_plus_one():
    model = tiny_moco(queue_size=63, dim=4)
    assert math.isclose(float(model.loss(torch.zeros(5, 64))), math.log(64), rel_tol=1e-6)


def test_split_batchnorm_equals_separate_batchnorm_per_chunk():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 4, 4)
    split = SplitBatchNorm2d(3, splits=2)
    plain = torch.nn.BatchNorm2d(3)
    out = split(x)
    expected = torch.cat([plain(x[:4]), torch.nn.BatchNorm2d(3)(x[4:])])
    assert torch.allclose(out, expected, atol=1e-6)
    means = torch.stack([x[:4].mean((0, 2, 3)), x[4:].mean((0, 2, 3))]).mean(0)
    assert torch.allclose(split.running_mean, 0.1 * means, atol=1e-6)
    split.eval()
    assert torch.allclose(split(x), F.batch_norm(x, split.running_mean, split.running_var,
                                                 split.weight, split.bias, False, 0.0, split.eps))


def test_split_batchnorm_keeps_the_state_dict_layout():
    backbone = build_backbone("resnet18", width=4, small_stem=True)
    keys = set(backbone.state_dict())
    split_batchnorm(backbone, 4)
    assert set(backbone.state_dict()) == keys
    assert all(m.splits == 4 for m in backbone.modules() if isinstance(m, SplitBatchNorm2d))
