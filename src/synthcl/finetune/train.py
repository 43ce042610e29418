"""Training of one hyper-parameter configuration, with validation after every epoch.

The whole classifier is trained with SGD (momentum, weight decay) and a step decay of the
learning rate (x0.1 every ``lr_step`` epochs), as in the paper. Data stay uint8 tensors on the
device; batches are indexed from them (no DataLoader), augmented there, and normalised at the
network input. After every epoch the validation half is predicted in large batches without
gradients, and the weights of the best epoch so far are kept in memory.

Best epoch: the highest validation accuracy; ties (frequent with a few validation images) go to
the lower validation cross-entropy, then to the earlier epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from synthcl.finetune.classifier import autocast, network_input, predict_logits
from synthcl.utils.progress import progress
from synthcl.utils.seeding import make_generator


@dataclass(frozen=True)
class HyperParams:
    batch_size: int
    lr: float


@dataclass(frozen=True)
class TrainSettings:
    """The recipe shared by every configuration of a grid."""

    epochs: int = 100
    lr_step: int = 30
    momentum: float = 0.9
    weight_decay: float = 1e-4
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    amp: bool = True
    channels_last: bool = True
    eval_batch_size: int = 512


@dataclass
class TrainResult:
    """One configuration's curves and its best epoch (1-based) with that epoch's weights."""

    params: HyperParams
    val_accuracy: list[float]
    val_loss: list[float]
    train_loss: list[float]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    wall_time_s: float

    @property
    def best_val_accuracy(self) -> float:
        return self.val_accuracy[self.best_epoch - 1]

    @property
    def best_val_loss(self) -> float:
        return self.val_loss[self.best_epoch - 1]

    def score(self) -> tuple[float, float]:
        """Larger is better: (validation accuracy, minus validation loss) of the best epoch."""
        return (self.best_val_accuracy, -self.best_val_loss)

    def summary(self) -> dict:
        return {"batch_size": self.params.batch_size, "lr": self.params.lr,
                "best_epoch": self.best_epoch, "best_val_accuracy": self.best_val_accuracy,
                "best_val_loss": self.best_val_loss, "wall_time_s": round(self.wall_time_s, 3)}


Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def validate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             settings: TrainSettings) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) on a labelled set."""
    logits = predict_logits(model, images, settings.device, batch_size=settings.eval_batch_size,
                            amp=settings.amp, channels_last=settings.channels_last)
    labels = labels.cpu()
    accuracy = (logits.argmax(1) == labels).sum().item() / len(labels)
    return accuracy, F.cross_entropy(logits, labels).item()


def train_configuration(model: nn.Module, train_images: torch.Tensor, train_labels: torch.Tensor,
                        val_images: torch.Tensor, val_labels: torch.Tensor, params: HyperParams,
                        settings: TrainSettings, augment: Augment, seed: int,
                        desc: str = "") -> TrainResult:
    """Train ``model`` (moved to the device) on the training half; keep the best epoch on
    validation. Images are uint8 (n, C, H, W), labels int64 (n,), ideally already on the device."""
    start = time.perf_counter()
    device = settings.device
    model.to(device)
    if settings.channels_last and device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    train_images, train_labels = train_images.to(device), train_labels.to(device)
    val_images, val_labels = val_images.to(device), val_labels.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=params.lr, momentum=settings.momentum,
                                weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=settings.lr_step, gamma=0.1)
    generator = make_generator(seed, "finetune-batches")
    n = len(train_images)
    curves: dict[str, list[float]] = {"val_accuracy": [], "val_loss": [], "train_loss": []}
    best_epoch, best_score, best_state = 0, (-1.0, float("-inf")), {}
    bar = progress(range(1, settings.epochs + 1), desc=desc, unit="epoch")
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=generator)
        loss_sum, seen = torch.zeros((), device=device), 0
        for begin in range(0, n, params.batch_size):
            index = order[begin:begin + params.batch_size]
            if len(index) < 2 <= n:  # batch norm needs two images; this one returns next epoch
                continue
            index = index.to(device)
            images = augment(train_images.index_select(0, index), generator)
            labels = train_labels.index_select(0, index)
            with autocast(device, settings.amp):
                loss = F.cross_entropy(model(network_input(images, settings.channels_last)),
                                       labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().float() * len(index)
            seen += len(index)
        schedule.step()
        accuracy, val_loss = validate(model, val_images, val_labels, settings)
        curves["val_accuracy"].append(accuracy)
        curves["val_loss"].append(val_loss)
        curves["train_loss"].append(loss_sum.item() / max(seen, 1))
        if (accuracy, -val_loss) > best_score:
            best_epoch, best_score = epoch, (accuracy, -val_loss)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        bar.set_postfix(val_acc=f"{accuracy:.3f}", best=f"{best_score[0]:.3f}@{best_epoch}",
                        refresh=False)
    return TrainResult(params, curves["val_accuracy"], curves["val_loss"], curves["train_loss"],
                       best_epoch, best_state, time.perf_counter() - start)
