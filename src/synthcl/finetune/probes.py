"""Frozen-feature probes: low-variance measures of a backbone beside the fine-tuned accuracy.

Fine-tuning N = 40 images picks a configuration and an epoch on a 20-image validation half, so
its test accuracy moves by many points between seeds. The probes keep the backbone frozen and
fit only a small read-out, so they measure the features themselves:

* ``linear``: multinomial logistic regression on standardised features, fitted on the train
  half (L-BFGS, full batch); its L2 penalty is chosen on the validation half (best validation
  accuracy, ties to the lower validation loss, then the stronger penalty);
* ``knn``: a similarity-weighted kNN vote (cosine on features centred on the train half's mean,
  as in :func:`synthcl.pretraining.monitor.knn_accuracy`); k is chosen on the validation half
  (ties to the larger k).

Every choice sees the two halves of the N labelled images only; the test split is read once, by
``read_test``, after all choices are made, and scored with the chosen read-outs. Both probes run
on the pre-trained backbone and on the same architecture at random initialisation (the
"scratch" network of the same seed), so a report can pair them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from synthcl.data import Split
from synthcl.finetune.classifier import predict_logits
from synthcl.finetune.metrics import classification_metrics
from synthcl.pretraining.monitor import knn_votes

PENALTIES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
NEIGHBOURS = (1, 3, 5, 7, 9, 11, 15, 19, 25)
LBFGS_ITERATIONS = 200

TestReader = Callable[[], tuple[torch.Tensor, np.ndarray]]


@dataclass(frozen=True)
class Halves:
    """Features (float32 (n, d)) and int64 labels of the train and validation halves."""

    train: torch.Tensor
    train_labels: torch.Tensor
    val: torch.Tensor
    val_labels: torch.Tensor
    num_classes: int


@dataclass(frozen=True)
class LinearReadout:
    mean: torch.Tensor
    std: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor
    penalty: float

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return ((features - self.mean) / self.std) @ self.weight.T + self.bias

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of the same map on raw, unstandardised features."""
        weight = self.weight / self.std
        return weight, self.bias - weight @ self.mean


def fit_linear(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
               penalty: float) -> LinearReadout:
    """Logistic regression with an L2 ``penalty`` on standardised ``features``."""
    mean, std = features.mean(0), features.std(0, unbiased=False).clamp_min(1e-6)
    x = ((features - mean) / std).double()
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=LBFGS_ITERATIONS,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = (F.cross_entropy(x @ weight.T + bias, labels)
                + penalty * weight.pow(2).sum() / 2)
        loss.backward()
        return loss

    optimizer.step(closure)
    return LinearReadout(mean, std, weight.detach().float(), bias.detach().float(), penalty)


def choose_linear(halves: Halves) -> tuple[LinearReadout, list[dict]]:
    """The readout whose penalty scores best on the validation half, and every candidate's
    validation scores."""
    best, best_key, tried = None, None, []
    for penalty in PENALTIES:
        readout = fit_linear(halves.train, halves.train_labels, halves.num_classes, penalty)
        logits = readout.logits(halves.val)
        accuracy = float((logits.argmax(1) == halves.val_labels).float().mean())
        loss = float(F.cross_entropy(logits, halves.val_labels))
        tried.append({"penalty": penalty, "val_accuracy": accuracy, "val_loss": loss})
        key = (accuracy, -loss, penalty)
        if best_key is None or key > best_key:
            best, best_key = readout, key
    assert best is not None
    return best, tried


def choose_k(halves: Halves) -> tuple[int, list[dict]]:
    """The number of neighbours best on the validation half (ties: the larger k)."""
    best, best_key, tried = 1, None, []
    for k in (k for k in NEIGHBOURS if k <= len(halves.train)):
        votes = knn_votes(halves.train, halves.train_labels, halves.val, k, halves.num_classes)
        accuracy = float((votes.argmax(1) == halves.val_labels).float().mean())
        tried.append({"k": k, "val_accuracy": accuracy})
        if best_key is None or (accuracy, k) > best_key:
            best, best_key = k, (accuracy, k)
    return best, tried


def probe(halves: Halves, read_test: TestReader, class_names: Sequence[str]) -> dict:
    """Both probes: choices on the halves, then the test split read once and scored."""
    readout, linear_tried = choose_linear(halves)
    k, knn_tried = choose_k(halves)
    test, test_labels = read_test()
    linear = readout.logits(test).argmax(1).numpy()
    knn = knn_votes(halves.train, halves.train_labels, test, k, halves.num_classes)
    return {
        "linear": _scores(test_labels, linear, class_names, penalty=readout.penalty,
                          candidates=linear_tried),
        "knn": _scores(test_labels, knn.argmax(1).numpy(), class_names, k=k,
                       candidates=knn_tried),
    }


def _scores(labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str],
            **chosen) -> dict:
    metrics = classification_metrics(labels, predictions, class_names)
    return {"accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
            **chosen}


def frozen_halves(backbone: torch.nn.Module, train: Split, val: Split, num_classes: int,
                  device: torch.device, batch_size: int = 512) -> Halves:
    """The halves' features under a frozen ``backbone`` (eval mode, fp32, moved to ``device``)."""
    backbone = backbone.to(device)
    return Halves(features(backbone, train, device, batch_size), torch.from_numpy(train.labels),
                  features(backbone, val, device, batch_size), torch.from_numpy(val.labels),
                  num_classes)


def features(backbone: torch.nn.Module, split: Split, device: torch.device,
             batch_size: int) -> torch.Tensor:
    return predict_logits(backbone, split.tensor(), device, batch_size=batch_size, amp=False,
                          channels_last=False)


def probe_backbone(backbone: torch.nn.Module, train: Split, val: Split, test: Split,
                   class_names: Sequence[str], device: torch.device, batch_size: int = 512
                   ) -> dict:
    """Both probes of a frozen ``backbone`` on the halves and the test split."""
    backbone = backbone.to(device)
    halves = frozen_halves(backbone, train, val, len(class_names), device, batch_size)
    return probe(halves, lambda: (features(backbone, test, device, batch_size), test.labels),
                 class_names)


def probe_head(backbone: torch.nn.Module, train: Split, val: Split, num_classes: int,
               device: torch.device, batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of a linear head on ``backbone``'s features that computes the linear probe
    chosen on the halves: the start of linear-probe-then-fine-tune (LP-FT)."""
    readout, _ = choose_linear(frozen_halves(backbone, train, val, num_classes, device,
                                             batch_size))
    return readout.folded()
