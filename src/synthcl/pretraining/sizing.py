"""Batch, queue and steps of a run, fitted to its number of distinct instances.

With few instances (MoCo on the N = 40 real images), the settings that suit a synthetic set of
N x M images would handicap the baseline: a batch of 64 repeats instances, and a queue longer
than ``instances - batch`` holds keys of the current batch's own instances as negatives. The
``fair`` sizing (the default) therefore caps, per run:

* the batch at half the instances (no instance twice in a batch, room for a queue of a batch);
* the queue at ``instances - batch`` (it then holds other instances only, but around epoch
  boundaries, where the MoCo loss masks a query's own older keys anyway);
* and scales the steps (and warm-up) so that every mode processes the same number of pairs,
  ``steps x batch_size`` as asked: equal pre-training compute.

``literal`` keeps ``batch_size``, ``queue_size`` and ``steps`` as given (the paper's settings);
the loss still masks a query's own instance in the queue.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from synthcl.errors import SynthclError


@dataclass(frozen=True)
class Sizing:
    batch: int
    queue: int
    steps: int
    warmup_steps: int
    note: str | None = None           # what was changed and why; None when nothing was

    def describe(self) -> dict:
        return {"batch_size": self.batch, "queue_size": self.queue, "steps": self.steps,
                "warmup_steps": self.warmup_steps, "note": self.note}


def fit_to_instances(config, instances: int, world: int = 1) -> Sizing:
    """The sizing of ``config`` (a ``PretrainConfig``) for a set of ``instances``, over
    ``world`` processes (the batch stays a multiple of ``world``)."""
    if config.epochs is not None:            # passes over this set, at the batch it will use
        batch = (config.batch_size if config.sizing == "literal"
                 else _fair_batch(config.batch_size, instances, world))
        steps = max(1, math.ceil(config.epochs * instances / max(batch, 1)))
        config = dataclasses.replace(config, steps=steps, batch_size=batch, epochs=None)
    asked = Sizing(config.batch_size, config.queue_size, config.steps, config.warmup_steps)
    if config.sizing == "literal":
        return asked
    batch = _fair_batch(config.batch_size, instances, world)
    if batch < max(2, world):
        raise SynthclError(
            f"{instances} distinct instances are too few to pre-train on with fair sizing "
            f"(a batch of at least {max(2, world)} and a queue as long must fit): use more images "
            f"(--n, --m) or --set sizing=literal")
    queue = min(config.queue_size, instances - batch)
    if (batch, queue) == (config.batch_size, config.queue_size):
        return asked
    pairs = config.steps * config.batch_size
    steps = math.ceil(pairs / batch)
    warmup = math.ceil(config.warmup_steps * config.batch_size / batch)
    reasons = []
    if batch != config.batch_size:
        reasons.append(f"batch {batch} (asked {config.batch_size}) so that no instance repeats "
                       f"within a batch")
    if queue != config.queue_size:
        reasons.append(f"queue {queue} (asked {config.queue_size}) = instances - batch, so that "
                       f"the queue holds keys of other instances only")
    if steps != config.steps:
        reasons.append(f"{steps} steps (asked {config.steps} at batch {config.batch_size}) for "
                       f"the same {pairs:,} pairs")
    note = (f"fair sizing for {instances:,} distinct instances: {'; '.join(reasons)} "
            f"(--set sizing=literal keeps the asked values)")
    return Sizing(batch, queue, steps, warmup, note)


def _fair_batch(asked: int, instances: int, world: int) -> int:
    """The largest batch <= ``asked`` and <= instances / 2 that is a multiple of ``world``."""
    return min(asked, instances // 2) // world * world
