"""Datasets given as image files with a class name and an optional split each (folders,
manifests, elpv): decode once (cached), then assemble the splits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthcl.data.sources.cache import cached_arrays, files_fingerprint
from synthcl.data.sources.images import decode_files
from synthcl.data.sources.options import LoadOptions
from synthcl.data.sources.splits import complete_splits
from synthcl.data.types import SPLITS, ImageData, Split
from synthcl.errors import SynthclError


@dataclass(frozen=True)
class LabelledFile:
    path: str                     # file path (a plain string: fast for 100k files)
    label: str
    split: str | None = None      # 'train' | 'val' | 'test' | None (no official split)


def natural_order(names: set[str] | list[str]) -> tuple[str, ...]:
    """Class names sorted so that '2' < '10' and 'class2' < 'class10'."""
    def key(name: str) -> list:
        return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                for part in re.split(r"(\d+)", name) if part]
    return tuple(sorted(set(names), key=key))


def decode_cached(paths: list[str], options: LoadOptions, identity: object,
                  source: Path) -> np.ndarray:
    """The images of ``paths`` as uint8 (n, H, W, C), from the data cache when unchanged."""
    def compute() -> dict[str, np.ndarray]:
        return {"images": decode_files(paths, options.image_size,
                                       desc=f"decoding {len(paths)} images")}

    key = {"identity": identity, "image_size": options.image_size, "version": 1}
    try:
        fingerprint = files_fingerprint(paths)
    except FileNotFoundError as exc:
        raise SynthclError(f"{source}: image file {exc.filename} does not exist; fix its path "
                           f"(paths in a manifest are relative to its folder)") from exc
    return cached_arrays("images", key, fingerprint, compute)["images"]


def build_image_data(files: list[LabelledFile], options: LoadOptions, *, name: str, format: str,
                     source: Path, modality: str, official: str,
                     class_names: tuple[str, ...] | None = None,
                     notes: tuple[str, ...] = ()) -> ImageData:
    """Decode ``files`` and assemble an ImageData. Either every file has a split (``official``
    names where from) or none has one (then the seeded stratified split applies)."""
    if not files:
        raise SynthclError(f"{source}: no images found")
    with_split = sum(f.split is not None for f in files)
    if 0 < with_split < len(files):
        missing = next(f for f in files if f.split is None)
        raise SynthclError(f"{source}: {missing.path} has no split while others have one; give "
                           f"every image a split or none")
    class_names = class_names or natural_order({f.label for f in files})
    index = {c: i for i, c in enumerate(class_names)}
    unknown = sorted({f.label for f in files} - set(index))
    if unknown:
        raise SynthclError(f"{source}: unknown class(es) {', '.join(unknown)}; expected one of "
                           f"{', '.join(class_names)}")
    # grouped by split (a stable sort; no split given: all train until the seeded split)
    files = sorted(files, key=lambda f: SPLITS.index(f.split or "train"))
    split_of = [f.split or "train" for f in files]
    images = decode_cached([f.path for f in files], options, identity=(format, str(source)),
                           source=source)
    labels = np.array([index[f.label] for f in files], dtype=np.int64)
    splits, start = {}, 0
    for split in SPLITS:
        stop = start + split_of.count(split)
        if stop > start:   # contiguous ranges: views, no copies
            splits[split] = Split(images[start:stop], labels[start:stop])
        start = stop
    splits, note = complete_splits(splits, options.split_seed, official, source)
    return ImageData(name=name, format=format, source=str(source), class_names=class_names,
                     splits=splits, split_note=note, modality=modality, notes=notes)
