"""Real data in: every supported format loads to one :class:`ImageData` (see ``types``).

PROVISIONAL: only MedMNIST ``.npz`` is wired yet; the other sources are being added.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthcl.data.sampling import BalancedSample, sample_balanced
from synthcl.data.types import SPLITS, ImageData, Split
from synthcl.errors import SynthclError

__all__ = ["ImageData", "Split", "SPLITS", "BalancedSample", "sample_balanced", "load_dataset",
           "load_for_config"]


def load_dataset(path: str | None = "elpv", format: str | None = None,
                 image_size: str | tuple[int, int] | None = None, allow_pickle: bool = False,
                 split_seed: int = 0) -> ImageData:
    p = Path(path)
    if p.suffix != ".npz":
        raise SynthclError(f"--data {path}: only .npz is supported so far")
    with np.load(p) as z:
        splits = {}
        for name in SPLITS:
            images = z[f"{name}_images"]
            if images.ndim == 3:
                images = images[..., None]
            splits[name] = Split(images.astype(np.uint8), z[f"{name}_labels"].reshape(-1).astype(np.int64))
    k = int(max(s.labels.max() for s in splits.values())) + 1
    return ImageData(p.stem, "medmnist", str(p), tuple(str(i) for i in range(k)), splits)


def load_for_config(config) -> ImageData:
    """Load the dataset named by a config's ``data/format/image_size/allow_pickle`` fields."""
    return load_dataset(config.data, config.format, config.image_size, config.allow_pickle)
