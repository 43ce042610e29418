"""Real data in: every supported format loads to one :class:`ImageData` (see ``types``).

``load_dataset(path, format, image_size, allow_pickle, split_seed)`` detects the format from the
path (``sources.detect``), or takes ``format`` (one of ``FORMATS``), and returns uint8 images
(n, H, W, C) with int labels, class names and the splits train / val (may be empty) / test.
Datasets without an official test split get a seeded stratified one (``sources.splits``).
Decoded image folders are cached on disk (``sources.cache``).
"""

from __future__ import annotations

import os
import warnings

from synthcl.data.cli import add_data_arguments, load_from_args
from synthcl.data.sampling import BalancedSample, sample_balanced
from synthcl.data.sources import FORMATS
from synthcl.data.sources.detect import resolve
from synthcl.data.sources.options import LoadOptions, parse_image_size
from synthcl.data.types import SPLITS, DataWarning, ImageData, Split
from synthcl.errors import SynthclError

__all__ = ["ImageData", "Split", "SPLITS", "DataWarning", "BalancedSample", "sample_balanced",
           "load_dataset", "load_for_config", "add_data_arguments", "load_from_args", "FORMATS",
           "parse_image_size"]


def _check_sizes(data: ImageData) -> None:
    shapes = {name: split.images.shape[1:] for name, split in data.splits.items() if len(split)}
    if len(set(shapes.values())) > 1:
        text = ", ".join(f"{name} {w}x{h}x{c}" for name, (h, w, c) in shapes.items())
        raise SynthclError(f"{data.source}: the splits differ in image size ({text}, width x "
                           f"height x channels); pass --image-size WxH to resize every image "
                           f"at load")


def _check(data: ImageData) -> ImageData:
    _check_sizes(data)
    k = data.num_classes
    if k < 2:
        raise SynthclError(f"{data.source}: {k} class found ({', '.join(data.class_names)}); "
                           f"classification needs at least two")
    for name, split in data.splits.items():
        if len(split) and (split.labels.min() < 0 or split.labels.max() >= k):
            raise SynthclError(f"{data.source}: {name} labels range over "
                               f"{split.labels.min()}..{split.labels.max()}, outside the "
                               f"{k} classes 0..{k - 1}")
    return data


def load_dataset(path: str | os.PathLike | None = "elpv", format: str | None = None,
                 image_size: str | tuple[int, int] | None = None, allow_pickle: bool = False,
                 split_seed: int = 0, outside_paths: bool = False) -> ImageData:
    """Load a dataset. ``path``: "elpv"/None (embedded) or a file/folder; ``format``: force one
    of ``FORMATS``; ``image_size``: "S" or "WxH" (width x height) resizes at load;
    ``allow_pickle``: needed for WM-811K's pickle; ``split_seed``: seeds the stratified test
    split of datasets without an official one; ``outside_paths``: let a manifest list images
    outside its folder. What a loader leaves out is in ``ImageData.notes`` and warned."""
    options = LoadOptions(parse_image_size(image_size), allow_pickle is True, int(split_seed),
                          bool(outside_paths))
    name, resolved = resolve(path, format, tuple(FORMATS))
    data = _check(FORMATS[name].load(resolved, options))
    for note in data.notes:
        warnings.warn(f"{data.source}: {note}", DataWarning, stacklevel=2)
    return data


def load_for_config(config) -> ImageData:
    """Load the dataset named by a config's ``data/format/image_size/allow_pickle/split_seed``
    fields."""
    return load_dataset(getattr(config, "data", "elpv"), getattr(config, "format", None),
                        getattr(config, "image_size", None), getattr(config, "allow_pickle", False),
                        getattr(config, "split_seed", 0))

