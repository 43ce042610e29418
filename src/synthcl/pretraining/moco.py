"""MoCo v2: query encoder, momentum key encoder, queue of negative keys, InfoNCE.

A step, in the reference order (see :mod:`synthcl.pretraining.trainer`): momentum update of the key
encoder, keys of the second views without gradient (through shuffle-BN), queries of the first
views, ``logits = [q.k+, q.queue] / T`` with the positive at index 0, cross-entropy against
index 0, backward, optimiser step, then the keys (gathered over processes) replace the oldest
entries of the queue.

Shuffle-BN (the reference's remedy against BatchNorm leaking which keys belong to the current
batch) is done with *split* BatchNorm: the global batch is cut into ``bn_splits`` groups that
each have their own BN statistics, as the reference's groups do with one group per GPU; keys
are computed on a randomly permuted batch, so most keys (all but about 1 / ``bn_splits``) sit in
another group than their query. The groups span processes (each process holds
``bn_splits / world_size`` of them), so one process computes the same losses and gradients as
several, and one process still gets the protection when the batch allows two groups or more
(the automatic choice keeps 32 images per group, so batches under 64 get one group and no
shuffle). BN running statistics, used only in eval mode, follow rank 0 under several processes.
SyncBN is not used: it would pool every sample of the batch into one statistic, the leak
shuffle-BN avoids.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from synthcl.models import Backbone


class SplitBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are computed separately on ``splits`` consecutive
    equal chunks of the batch; the running statistics move by the chunks' average. Same state
    dict as ``nn.BatchNorm2d``; in eval mode, or with one split, it is ``nn.BatchNorm2d``."""

    def __init__(self, num_features: int, splits: int = 1, **kwargs):
        super().__init__(num_features, **kwargs)
        self.splits = splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.splits == 1:
            return super().forward(x)
        if x.shape[0] % self.splits:
            raise ValueError(f"batch {x.shape[0]} is not divisible into {self.splits} BN groups")
        outs, means, variances = [], [], []
        for chunk in x.chunk(self.splits):
            mean, var = self.running_mean.clone(), self.running_var.clone()
            outs.append(F.batch_norm(chunk, mean, var, self.weight, self.bias, True,
                                     self.momentum, self.eps))
            means.append(mean)
            variances.append(var)
        with torch.no_grad():
            self.running_mean.copy_(torch.stack(means).mean(0))
            self.running_var.copy_(torch.stack(variances).mean(0))
            self.num_batches_tracked.add_(1)
        return torch.cat(outs)


def split_batchnorm(module: nn.Module, splits: int) -> nn.Module:
    """Replace every ``nn.BatchNorm2d`` inside ``module`` by a :class:`SplitBatchNorm2d` with the
    same weights and statistics (in place; returns ``module``)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            if isinstance(child, SplitBatchNorm2d):
                child.splits = splits
                continue
            new = SplitBatchNorm2d(child.num_features, splits, eps=child.eps,
                                   momentum=child.momentum)
            new.load_state_dict(child.state_dict())
            new.to(child.weight.device)
            setattr(module, name, new)
        else:
            split_batchnorm(child, splits)
    return module


class Encoder(nn.Module):
    """Backbone + MoCo v2's 2-layer MLP head (Linear(d, d) -> ReLU -> Linear(d, dim))."""

    def __init__(self, backbone: Backbone, dim: int = 128):
        super().__init__()
        d = backbone.feature_dim
        self.backbone = backbone
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(inplace=True), nn.Linear(d, dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images))


class MoCo(nn.Module):
    """Query encoder, momentum key encoder (no gradient) and a queue (dim, K) of keys."""

    def __init__(self, backbone: Backbone, dim: int = 128, queue_size: int = 65536,
                 momentum: float = 0.999, temperature: float = 0.2, bn_splits: int = 1,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.momentum, self.temperature = momentum, temperature
        self.encoder_q = split_batchnorm(Encoder(backbone, dim), bn_splits)
        self.encoder_k = copy.deepcopy(self.encoder_q)
        for p in self.encoder_k.parameters():
            p.requires_grad_(False)
        queue = F.normalize(torch.randn(dim, queue_size, generator=generator), dim=0)
        self.register_buffer("queue", queue)
        # the instance each queued key came from (-1: the random keys it starts with)
        self.register_buffer("queue_ids", torch.full((queue_size,), -1, dtype=torch.long))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    @property
    def queue_size(self) -> int:
        return self.queue.shape[1]

    @torch.no_grad()
    def momentum_update(self) -> None:
        """Key parameters k <- m * k + (1 - m) * q (parameters only; BN buffers are the key
        encoder's own)."""
        keys = list(self.encoder_k.parameters())
        queries = [p.detach() for p in self.encoder_q.parameters()]
        torch._foreach_mul_(keys, self.momentum)
        torch._foreach_add_(keys, torch._foreach_mul(queries, 1 - self.momentum))

    @torch.no_grad()
    def keys(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised float32 keys of ``images`` (no gradient)."""
        return F.normalize(self.encoder_k(images).float(), dim=1)

    def logits(self, q: torch.Tensor, k: torch.Tensor, ids: torch.Tensor | None = None
               ) -> torch.Tensor:
        """(B, 1 + K) logits / T: column 0 is the positive q.k, the rest q against the queue.
        With the queries' instance ``ids``, queued keys of a query's own instance (an older
        view of the same image) are masked to -inf: an instance is never its own negative."""
        q = F.normalize(q.float(), dim=1)
        positive = (q * k).sum(dim=1, keepdim=True)
        negative = q @ self.queue.clone().detach()
        if ids is not None:
            own = self.queue_ids.unsqueeze(0) == ids.to(self.queue_ids.device).unsqueeze(1)
            negative = negative.masked_fill(own, float("-inf"))
        return torch.cat([positive, negative], dim=1) / self.temperature

    @staticmethod
    def loss(logits: torch.Tensor) -> torch.Tensor:
        """InfoNCE: cross-entropy with the positive at index 0."""
        return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long,
                                                   device=logits.device))

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, ids: torch.Tensor | None = None) -> None:
        """Write ``keys`` (n, dim) of instances ``ids`` over the oldest entries, wrapping."""
        n, size = keys.shape[0], self.queue_size
        if n > size:
            raise ValueError(f"{n} keys do not fit a queue of {size}")
        index = (self.queue_ptr + torch.arange(n, device=self.queue.device)) % size  # no sync
        self.queue[:, index] = keys.to(self.queue.dtype).T
        self.queue_ids[index] = -1 if ids is None else ids.to(self.queue_ids.device)
        self.queue_ptr.copy_((self.queue_ptr + n) % size)
