"""Frozen-feature probes: every choice on the train/validation halves, the test split read once
after all choices, and read-outs that really separate separable features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthcl.finetune import probes
from synthcl.finetune.probes import Halves, choose_k, choose_linear, probe


def blobs(n: int, seed: int, shift: float = 3.0, dim: int = 16) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    features = torch.randn(n, dim, generator=g)
    features[:, 0] += shift * labels
    return features, labels


def halves(seed: int = 0) -> Halves:
    train, train_labels = blobs(20, seed)
    val, val_labels = blobs(20, seed + 1)
    return Halves(train, train_labels, val, val_labels, 2)


def test_choices_use_the_halves_only_and_the_test_split_is_read_once_after_them(monkeypatch):
    events = []
    for name in ("choose_linear", "choose_k"):
        chooser = getattr(probes, name)

        def recorded(h, chooser=chooser, name=name):
            events.append(name)
            return chooser(h)

        monkeypatch.setattr(probes, name, recorded)
    test, test_labels = blobs(200, 7)

    def read_test():
        events.append("read_test")
        return test, test_labels.numpy()

    result = probe(halves(), read_test, ("a", "b"))
    assert events == ["choose_linear", "choose_k", "read_test"]
    # the same halves with other test labels: the same choices
    flipped = probe(halves(), lambda: (test, 1 - test_labels.numpy()), ("a", "b"))
    for kind, chosen in (("linear", "penalty"), ("knn", "k")):
        assert result[kind][chosen] == flipped[kind][chosen]
        assert result[kind]["candidates"] == flipped[kind]["candidates"]
        assert result[kind]["accuracy"] + flipped[kind]["accuracy"] == pytest.approx(1.0)


def test_linear_and_knn_probes_separate_separable_features():
    test, test_labels = blobs(400, 9)
    result = probe(halves(), lambda: (test, test_labels.numpy()), ("a", "b"))
    assert result["linear"]["balanced_accuracy"] > 0.85
    assert result["knn"]["balanced_accuracy"] > 0.8
    noise = Halves(torch.randn(20, 16), torch.arange(20) % 2, torch.randn(20, 16),
                   torch.arange(20) % 2, 2)
    chance = probe(noise, lambda: (torch.randn(400, 16), (np.arange(400) % 2)), ("a", "b"))
    assert chance["linear"]["balanced_accuracy"] < 0.65


def test_penalty_ties_go_to_the_lower_validation_loss_and_k_ties_to_the_larger_k():
    readout, tried = choose_linear(halves())
    best = max(tried, key=lambda t: (t["val_accuracy"], -t["val_loss"], t["penalty"]))
    assert readout.penalty == best["penalty"]
    k, tried_k = choose_k(halves())
    top = max(t["val_accuracy"] for t in tried_k)
    assert k == max(t["k"] for t in tried_k if t["val_accuracy"] == top)
    assert all(t["k"] <= 20 for t in tried_k)


def test_a_folded_readout_computes_the_same_logits_on_raw_features():
    h = halves(3)
    readout = probes.fit_linear(h.train * 7 + 2, h.train_labels, 2, penalty=0.01)
    weight, bias = readout.folded()
    raw = h.val * 7 + 2
    assert torch.allclose(raw @ weight.T + bias, readout.logits(raw), atol=1e-4)
