"""What each pre-training step sees, as pure functions of the run's settings and the step:
which instances (:class:`EpochSampler`), the learning rate (:func:`learning_rate`), the
shuffle-BN groups (:func:`resolve_bn_splits`), and batches made ahead in threads
(:func:`prefetched`)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import torch

from synthcl.errors import SynthclError
from synthcl.pretraining.config import PretrainConfig
from synthcl.utils.seeding import make_generator


def resolve_bn_splits(requested: int, batch: int, world: int) -> int:
    """Shuffle-BN groups over the global batch. Automatic (0): the most of 8, 4, 2 that leaves at
    least 32 images per group, at least one group per process."""
    splits = requested or next((s for s in (8, 4, 2) if batch % s == 0 and batch // s >= 32
                                and s % world == 0), world)
    if batch % world or splits % world or batch % splits:
        raise SynthclError(
            f"batch size {batch}, {world} process(es) and {splits} shuffle-BN groups do not "
            f"divide evenly: the batch must be a multiple of the groups, and the groups of the "
            f"processes (set --batch-size or --set bn_splits=...)")
    return splits


def learning_rate(config: PretrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to 0 at ``steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    return config.lr * 0.5 * (1 + math.cos(math.pi * (step - config.warmup_steps) / span))


class EpochSampler:
    """Instances of step ``t``, from one random permutation of all instances per epoch.

    When a batch fits the set, an epoch is ``size // batch`` whole batches of its permutation
    (the last ``size % batch`` instances sit that epoch out), so no instance is twice in a
    batch. A batch larger than the set (literal sizing) takes positions ``t*B ... t*B+B-1`` of
    the permutations laid end to end."""

    def __init__(self, size: int, batch: int, seed: int):
        self.size, self.batch, self.seed = size, batch, seed
        self.per_epoch = size // batch

    @lru_cache(maxsize=4)  # noqa: B019 - a few permutations per sampler, freed with it
    def permutation(self, epoch: int) -> torch.Tensor:
        return torch.randperm(self.size, generator=make_generator(self.seed, "order", epoch))

    def indices(self, step: int) -> torch.Tensor:
        if self.per_epoch:
            start = step % self.per_epoch * self.batch
            return self.permutation(step // self.per_epoch)[start:start + self.batch].clone()
        positions = torch.arange(step * self.batch, (step + 1) * self.batch)
        epochs = positions // self.size
        out = torch.empty(self.batch, dtype=torch.long)
        for epoch in torch.unique(epochs).tolist():
            mask = epochs == epoch
            out[mask] = self.permutation(epoch)[positions[mask] % self.size]
        return out


def prefetched(make: Callable[[int], object], steps: range, workers: int
               ) -> Iterator[tuple[int, object]]:
    """``(t, make(t))`` for each step, made ``workers`` steps ahead in threads (0: inline)."""
    if workers <= 0:
        for step in steps:
            yield step, make(step)
        return
    pool = ThreadPoolExecutor(workers)
    try:
        pending: deque = deque()
        it = iter(steps)
        for step in it:
            pending.append((step, pool.submit(make, step)))
            if len(pending) > workers:
                break
        while pending:
            step, future = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(make, nxt)))
            yield step, future.result()
    finally:                 # an interrupt does not wait for the batches made ahead
        pool.shutdown(wait=False, cancel_futures=True)
