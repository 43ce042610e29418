"""The one in-memory form every data source returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

SPLITS = ("train", "val", "test")


class DataWarning(UserWarning):
    """A loader left files out or changed them (``ImageData.notes``)."""


@dataclass(frozen=True)
class Split:
    """Images of one split: ``images`` uint8 (n, H, W, C), C in {1, 3}; ``labels`` int64 (n,)."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (n, H, W, C), got {self.images.dtype} "
                             f"{self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must be ({len(self.images)},), got {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: np.ndarray) -> Split:
        return Split(self.images[indices], self.labels[indices])

    def class_counts(self, num_classes: int) -> np.ndarray:
        return np.bincount(self.labels, minlength=num_classes)

    def tensor(self) -> torch.Tensor:
        """Images as a uint8 ``(n, C, H, W)`` tensor sharing memory with the array."""
        import torch

        return torch.from_numpy(self.images).permute(0, 3, 1, 2)


@dataclass(frozen=True)
class ImageData:
    """A labelled dataset: class names and the splits 'train', 'val' (may be empty) and 'test'.

    ``split_note`` says where the splits came from (official, or a seeded stratified split).
    """

    name: str
    format: str
    source: str
    class_names: tuple[str, ...]
    splits: dict[str, Split]
    split_note: str = "official splits"
    # histology | xray | microscopy | wafer | thermal | retina | electroluminescence | unknown
    # (picks the fine-tuning augmentation; see sources.modality)
    modality: str = "unknown"
    # what the loader left out or changed, one line each (shown by `synthcl info` and warned)
    notes: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) shared by every image."""
        return tuple(self.splits["train"].images.shape[1:])  # type: ignore[return-value]
