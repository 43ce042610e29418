"""WM-811K ``LSWMD.pkl``: wafer maps with failure-pattern labels (a pickled pandas DataFrame).

Only with ``allow_pickle=True`` (``--allow-pickle``): unpickling can run arbitrary code, so load
only a file you trust. Column ``waferMap`` holds 2-D arrays of varying size (0 = outside the
wafer, 1 = good die, 2 = failing die), kept as these values in a 1-channel uint8 image resized to
45x45 (or ``image_size``) by nearest neighbour, as in the paper. ``failureType`` holds nested
arrays like [['Center']] or an empty array (unlabelled: skipped). The 9 classes, in this order:
Center, Donut, Edge-Loc, Edge-Ring, Loc, Near-full, Random, Scratch, none.

Split: the file's own ``trianTestLabel`` column (so spelt in the real file; ``trainTestLabel``
is accepted too) with 'Training'/'Test' is the official split (val empty); without it, or when
a labelled map lacks it, the seeded stratified split applies. Old pandas pickles that name the
module ``pandas.indexes`` are read through a compatibility unpickler. Decoded maps are cached.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from synthcl.data.sources.cache import cached_arrays, files_fingerprint
from synthcl.data.sources.images import resize_nearest
from synthcl.data.sources.options import LoadOptions
from synthcl.data.sources.splits import complete_splits
from synthcl.data.types import ImageData, Split
from synthcl.errors import SynthclError
from synthcl.utils.progress import progress

CLASS_NAMES = ("Center", "Donut", "Edge-Loc", "Edge-Ring", "Loc", "Near-full", "Random",
               "Scratch", "none")
DEFAULT_SIZE = (45, 45)
SPLIT_COLUMNS = ("trianTestLabel", "trainTestLabel")
_SPLIT_CODES = {"Training": 0, "Test": 1}


def _read_old_pickle(path: Path):
    """Unpickle with module names of pandas < 0.20 ('pandas.indexes.*') mapped to today's."""
    from pandas.compat.pickle_compat import Unpickler

    class _Renaming(Unpickler):
        def find_class(self, module: str, name: str):
            if module == "pandas.indexes" or module.startswith("pandas.indexes."):
                module = "pandas.core.indexes" + module[len("pandas.indexes"):]
            return super().find_class(module, name)

    with open(path, "rb") as fh:
        return _Renaming(fh, encoding="latin1").load()


def refuse_pickle(path: Path) -> SynthclError:
    return SynthclError(
        f"{path} is a pickle, and unpickling a file can run arbitrary code; if you trust it, "
        f"type --allow-pickle (allow_pickle=True in Python; a spec, a config file or a saved "
        f"run cannot opt in)")


def read_frame(path: Path):
    """The DataFrame in ``path`` (unpickles it: only for trusted files)."""
    import pandas as pd

    try:
        try:
            frame = pd.read_pickle(path)
        except (ModuleNotFoundError, ImportError, UnicodeDecodeError):
            frame = _read_old_pickle(path)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError,
            ValueError, TypeError) as exc:
        raise SynthclError(f"{path}: cannot unpickle it as the WM-811K DataFrame ({exc})") from exc
    if not isinstance(frame, pd.DataFrame) or "waferMap" not in frame or \
            "failureType" not in frame:
        raise SynthclError(f"{path}: expected a pandas DataFrame with columns waferMap and "
                           f"failureType (WM-811K LSWMD.pkl)")
    return frame


def _text(value) -> str | None:
    """'Center' from [['Center']] / ['Center'] / 'Center'; None for an empty array or NaN."""
    if isinstance(value, str):
        return value.strip() or None
    flat = np.asarray(value, dtype=object).ravel()
    if flat.size == 0 or not isinstance(flat[0], str):
        return None
    return flat[0].strip() or None


def _decode(path: Path, options: LoadOptions) -> dict[str, np.ndarray]:
    frame = read_frame(path)
    size = options.image_size or DEFAULT_SIZE
    index = {name: i for i, name in enumerate(CLASS_NAMES)}
    split_column = next((c for c in SPLIT_COLUMNS if c in frame), None)
    split_values = frame[split_column].tolist() if split_column else [None] * len(frame)
    rows, labels, split_codes = [], [], []
    pairs = zip(frame["failureType"].tolist(), split_values, strict=True)
    for row, (value, split) in enumerate(pairs):
        label = _text(value)
        if label is None:
            continue
        if label not in index:
            raise SynthclError(f"{path}: row {row} has failureType {label!r}; expected one of "
                               f"{', '.join(CLASS_NAMES)}")
        rows.append(row)
        labels.append(index[label])
        split_codes.append(_SPLIT_CODES.get(_text(split), -1))
    if not rows:
        raise SynthclError(f"{path}: no labelled wafer maps (every failureType is empty)")
    images = np.empty((len(rows), size[1], size[0], 1), dtype=np.uint8)
    maps = frame["waferMap"].tolist()
    for i, row in enumerate(progress(rows, desc="resizing wafer maps", unit="map")):
        wafer = np.asarray(maps[row])
        if wafer.ndim != 2 or wafer.size == 0 or wafer.min() < 0 or wafer.max() > 2:
            raise SynthclError(f"{path}: row {row}'s waferMap is not a 2-D array of dies "
                               f"0/1/2 (shape {wafer.shape})")
        images[i, ..., 0] = resize_nearest(wafer, size)
    return {"images": images, "labels": np.array(labels, dtype=np.int64),
            "split": np.array(split_codes, dtype=np.int8)}


def load(path: Path, options: LoadOptions) -> ImageData:
    if not options.allow_pickle:
        raise refuse_pickle(path)
    key = {"path": str(path.resolve()), "image_size": options.image_size or DEFAULT_SIZE,
           "version": 1}
    arrays = cached_arrays("wafer", key, files_fingerprint([path]), lambda: _decode(path, options))
    images, labels, codes = arrays["images"], arrays["labels"], arrays["split"]
    if (codes >= 0).all():
        splits = {"train": Split(images[codes == 0], labels[codes == 0]),
                  "test": Split(images[codes == 1], labels[codes == 1])}
        official = "official WM-811K split (trianTestLabel Training/Test); val empty"
    else:
        splits = {"train": Split(images, labels)}
        official = ""
    splits, note = complete_splits(splits, options.split_seed, official, path)
    return ImageData(name="wm811k", format="wafer-pkl", source=str(path),
                     class_names=CLASS_NAMES, splits=splits, split_note=note, modality="wafer")
