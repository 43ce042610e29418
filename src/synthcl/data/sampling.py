"""Class-balanced choice of N labelled images, half for training and half for validation.

As in the paper (Sec. 4.1): N images are drawn from the training split with the same number per
class; half of each class trains, the other half validates. The draw is a pure function of the
seed, so every method run with the same seed sees the same images and the same halves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthcl.data.types import Split
from synthcl.errors import SynthclError


@dataclass(frozen=True)
class BalancedSample:
    """The N sampled images: ``train`` and ``val`` halves and their indices in the source split."""

    train: Split
    val: Split
    train_indices: np.ndarray
    val_indices: np.ndarray

    @property
    def all(self) -> Split:
        """Both halves together (the N source images pre-training may use; labels unused there)."""
        return Split(np.concatenate([self.train.images, self.val.images]),
                     np.concatenate([self.train.labels, self.val.labels]))


def sample_balanced(split: Split, n: int, seed: int,
                    class_names: tuple[str, ...] | list[str]) -> BalancedSample:
    """Choose ``n`` images, ``n / num_classes`` per class, half of each for training and half
    for validation."""
    num_classes = len(class_names)
    if n <= 0:
        raise SynthclError(f"N={n}: the number of labelled images must be positive")
    per_class, rest = divmod(n, num_classes)
    if rest or per_class % 2:
        raise SynthclError(
            f"N={n} cannot be split evenly: it must be a multiple of 2 x {num_classes} classes "
            f"(same count per class, half train / half validation); try "
            f"N={max(2, (per_class + per_class % 2)) * num_classes}")
    counts = split.class_counts(num_classes)
    short = [f"'{class_names[c]}' has {counts[c]}" for c in range(num_classes)
             if counts[c] < per_class]
    if short:
        raise SynthclError(
            f"N={n} needs {per_class} images per class but class {', class '.join(short)} in the "
            f"training split; choose N <= {int(counts.min()) // 2 * 2 * num_classes}")
    rng = np.random.Generator(np.random.PCG64(seed))
    train_idx, val_idx = [], []
    for c in range(num_classes):
        members = np.flatnonzero(split.labels == c)
        chosen = rng.choice(members, size=per_class, replace=False)
        train_idx.append(chosen[: per_class // 2])
        val_idx.append(chosen[per_class // 2:])
    train_indices = np.sort(np.concatenate(train_idx))
    val_indices = np.sort(np.concatenate(val_idx))
    return BalancedSample(split.subset(train_indices), split.subset(val_indices),
                          train_indices, val_indices)
