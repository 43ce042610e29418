"""What each pre-training mode discriminates: a set of instances with a vectorised ``batch``.

============  ===========================================================================
mode          instances (each its own class in instance discrimination)
============  ===========================================================================
ours          the synthetic set: M images f_S(x_i) per sampled source x_i (``SyntheticSet``)
cl-real       the N sampled real images
cl-all        every image of the training split
cl-aug        the N sampled real images; f_S is applied, freshly random, to each view
universal     ``universal_size`` dead-leaves images, generated on the fly
============  ===========================================================================

Every source has ``__len__`` and ``batch(indices, device) -> uint8 (B, C, H, W)``; image ``i`` is
a pure function of the source's definition and ``i``. ``held_out`` images feed the monitor's
instance-discrimination probe: instances the run never trains on where the mode has any (fresh
synthetic copies, dead leaves past the set, the validation split), else the training instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from synthcl.data import BalancedSample, ImageData
from synthcl.pretraining.config import PretrainConfig
from synthcl.pretraining.methods import instances_of
from synthcl.synthetic.deadleaves import dead_leaves
from synthcl.utils.seeding import derive_seed

HELD_OUT = 256


class InstanceSource(Protocol):
    def __len__(self) -> int: ...

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None
              ) -> torch.Tensor: ...


class TensorSource:
    """Instances are the images of a uint8 (n, C, H, W) tensor."""

    def __init__(self, images: torch.Tensor):
        self.images = images.contiguous()

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None
              ) -> torch.Tensor:
        return self.images[indices.to(self.images.device)].to(device or self.images.device)


class DeadLeavesSource:
    """``size`` dead-leaves images of ``height x width``; image ``i`` depends on (seed, i) only."""

    def __init__(self, size: int, seed: int, height: int, width: int):
        self.size, self.seed, self.height, self.width = size, seed, height, width

    def __len__(self) -> int:
        return self.size

    def batch(self, indices: torch.Tensor, device: torch.device | str | None = None
              ) -> torch.Tensor:
        return dead_leaves(indices, self.seed, self.height, self.width, device)


@dataclass
class Sources:
    """The instances of a run, the f_S of ``cl-aug`` (else None) and held-out probe images."""

    train: InstanceSource
    view_generator: object | None
    held_out: torch.Tensor


def images_of(split) -> torch.Tensor:
    """uint8 (n, C, H, W) copy of a :class:`Split`'s images."""
    return split.tensor().contiguous()


def fs_generator(config: PretrainConfig):
    """The image generator f_S named by ``config.generator`` / ``config.d``."""
    from synthcl.generators import build_generator

    return build_generator(config.generator, d=config.d)


def synthetic_set(config: PretrainConfig, sources: torch.Tensor, m: int, seed: int):
    """The synthetic set of f_S over ``sources`` (M copies each)."""
    from synthcl.synthetic.sets import SyntheticSet

    return SyntheticSet(sources, fs_generator(config), m=m, seed=seed,
                        cache_dir=config.cache_dir)


def synthetic_images(config: PretrainConfig, data: ImageData, sample: BalancedSample) -> Sources:
    """``ours``: M synthetic images f_S(x_i) per sampled source; held out: fresh copies."""
    real = images_of(sample.all)
    train = synthetic_set(config, real, config.m, config.seed)
    copies = math.ceil(HELD_OUT / len(real))
    held = synthetic_set(config, real, copies, derive_seed(config.seed, "held-out"))
    return Sources(train, None, held.batch(torch.arange(min(HELD_OUT, len(held)))))


def real_images(config: PretrainConfig, data: ImageData, sample: BalancedSample) -> Sources:
    """``cl-real``: the N sampled real images."""
    real = images_of(sample.all)
    return Sources(TensorSource(real), None, real[:HELD_OUT])


def augmented_real_images(config: PretrainConfig, data: ImageData, sample: BalancedSample
                          ) -> Sources:
    """``cl-aug``: the N sampled real images, f_S applied afresh to each view."""
    real = images_of(sample.all)
    return Sources(TensorSource(real), fs_generator(config), real[:HELD_OUT])


def training_split(config: PretrainConfig, data: ImageData, sample: BalancedSample) -> Sources:
    """``cl-all``: every image of the training split; held out: the validation split."""
    train = TensorSource(images_of(data.splits["train"]))
    val = data.splits.get("val")
    held = images_of(val)[:HELD_OUT] if val is not None and len(val) else \
        images_of(sample.all)[:HELD_OUT]
    return Sources(train, None, held)


def dead_leaves_images(config: PretrainConfig, data: ImageData, sample: BalancedSample
                       ) -> Sources:
    """``universal``: ``universal_size`` dead-leaves images; held out: those past the set."""
    _, h, w = images_of(sample.all).shape[1:]
    train = DeadLeavesSource(config.universal_size, config.seed, h, w)
    held = train.batch(torch.arange(config.universal_size, config.universal_size + HELD_OUT))
    return Sources(train, None, held)


def build_sources(config: PretrainConfig, data: ImageData, sample: BalancedSample) -> Sources:
    """The instance set of ``config.mode`` (see :mod:`synthcl.pretraining.methods`)."""
    return instances_of(config.mode)(config, data, sample)
