"""The interface every image generator f_S implements.

A generator turns a batch of real images into synthetic images of the same shape. Its randomness
is split in two steps so that a synthetic set can make image (i, copy) a pure function of a seed:

* ``draw(batch, channels, height, width, generator)`` draws every random parameter on the CPU
  from an explicit ``torch.Generator`` and returns a flat dict of CPU tensors with the batch as
  dim 0 (draws for single images concatenate with ``torch.cat`` per key);
* ``apply(images, draws)`` is deterministic and vectorised over the batch; it moves the draws to
  the images' device, so CPU and CUDA give the same bytes (for the index-only generators).

``costly`` marks generators too slow to run on the fly (GPNN): synthetic sets cache their output.
"""

from __future__ import annotations

import abc
from typing import Any

import torch

from synthcl.errors import SynthclError

Draws = dict[str, torch.Tensor]


def check_images(images: torch.Tensor) -> None:
    """Raise ``SynthclError`` unless ``images`` is uint8 ``(B, C, H, W)`` with C in {1, 3}."""
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise SynthclError(
            f"generator input must be a uint8 (B, C, H, W) tensor with C = 1 or 3, got "
            f"{images.dtype} {tuple(images.shape)}; convert images with Split.tensor()")


def draws_to(draws: Draws, device: torch.device) -> Draws:
    return {key: value.to(device, non_blocking=True) for key, value in draws.items()}


class SyntheticGenerator(abc.ABC):
    """Base class of the generators f_S: ``gen(images, generator) == gen.apply(images, draws)``."""

    name: str = ""
    costly: bool = False

    @abc.abstractmethod
    def params(self) -> dict[str, Any]:
        """The parameters that identify the generator's output (JSON-able; part of cache keys)."""

    def spec(self) -> dict[str, Any]:
        """``{"name": ..., **params()}``: what manifests and cache keys record."""
        return {"name": self.name, **self.params()}

    @abc.abstractmethod
    def check_size(self, height: int, width: int) -> None:
        """Raise ``SynthclError`` when images of this size cannot be generated from."""

    @abc.abstractmethod
    def draw(self, batch: int, channels: int, height: int, width: int,
             generator: torch.Generator) -> Draws:
        """Random parameters for ``batch`` images, drawn on the CPU from ``generator``."""

    @abc.abstractmethod
    def apply(self, images: torch.Tensor, draws: Draws) -> torch.Tensor:
        """Synthetic images (uint8, same shape and device as ``images``) made with ``draws``."""

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_images(images)
        batch, channels, height, width = images.shape
        return self.apply(images, self.draw(batch, channels, height, width, generator))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"
