"""PatchCamelyon (PCam): the official HDF5 files and the folder layout of its JPEG copies.

Both give class 0 'normal' and class 1 'tumor' (tumour tissue in the centre 32x32 region) and the
official splits, PCam's 'valid' becoming 'val'.

- ``pcam-h5``: ``camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5`` (datasets ``x``
  (n, 96, 96, 3) uint8 and ``y`` (n, 1, 1, 1)); the path is their folder or any one of them.
  The valid files may be absent (then val is empty); train and test are required.
- ``pcam-folder``: ``{train,valid,test}/{0,1}/*.jpg`` under the path.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from synthcl.data.sources import folder
from synthcl.data.sources.images import resize_array
from synthcl.data.sources.labelled_files import LabelledFile, build_image_data
from synthcl.data.sources.options import LoadOptions
from synthcl.data.sources.splits import complete_splits
from synthcl.data.types import ImageData, Split
from synthcl.errors import SynthclError
from synthcl.utils.progress import progress

CLASS_NAMES = ("normal", "tumor")
H5_PATTERN = re.compile(r"camelyonpatch_level_2_split_(train|valid|test)_(x|y)\.h5")
_CHUNK = 4096


def h5_folder(path: Path) -> Path:
    return path.parent if path.is_file() else path


def has_h5_files(directory: Path) -> bool:
    return any(H5_PATTERN.fullmatch(p.name) for p in directory.glob("camelyonpatch_*.h5"))


def _read_x(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        data = f["x"]
        if data.ndim != 4 or data.shape[3] != 3 or data.dtype != np.uint8:
            raise SynthclError(f"{path}: dataset 'x' is {data.dtype} {data.shape}; expected uint8 "
                               f"(n, 96, 96, 3)")
        out = np.empty(data.shape, dtype=np.uint8)
        with progress(total=len(out), desc=f"reading {path.name}", unit="img") as bar:
            for start in range(0, len(out), _CHUNK):
                rows = np.s_[start:start + _CHUNK]
                data.read_direct(out, rows, rows)
                bar.update(len(out[rows]))
        return out


def _read_y(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        return np.asarray(f["y"][()]).reshape(-1).astype(np.int64)


def load_h5(path: Path, options: LoadOptions) -> ImageData:
    if path.is_file() and not H5_PATTERN.fullmatch(path.name):
        raise SynthclError(f"{path}: not a PCam file (camelyonpatch_level_2_split_<split>_<x|y>"
                           f".h5); point --data at the PCam folder, or use --format")
    directory = h5_folder(path)
    splits: dict[str, Split] = {}
    for pcam_split, split in (("train", "train"), ("valid", "val"), ("test", "test")):
        x_path = directory / f"camelyonpatch_level_2_split_{pcam_split}_x.h5"
        y_path = directory / f"camelyonpatch_level_2_split_{pcam_split}_y.h5"
        if not x_path.exists() and not y_path.exists() and split == "val":
            continue
        for needed in (x_path, y_path):
            if not needed.exists():
                raise SynthclError(f"PCam folder {directory}: {needed.name} is missing; put the "
                                   f"train and test x/y files there (gunzip any .h5.gz)")
        try:
            images, labels = _read_x(x_path), _read_y(y_path)
        except (OSError, KeyError) as exc:
            raise SynthclError(f"{x_path.name}/{y_path.name}: cannot read as PCam HDF5 "
                               f"({exc})") from exc
        if len(images) != len(labels):
            raise SynthclError(f"{directory}: {x_path.name} has {len(images)} images but "
                               f"{y_path.name} has {len(labels)} labels")
        splits[split] = Split(resize_array(images, options.image_size), labels)
    splits, note = complete_splits(splits, options.split_seed, "official PCam splits",
                                   directory)
    return ImageData(name="pcam", format="pcam-h5", source=str(directory),
                     class_names=CLASS_NAMES, splits=splits, split_note=note,
                     modality="histology")


def is_pcam_folder(path: Path) -> bool:
    """Split folders among train/valid/test (with 'valid', PCam's name) each holding exactly the
    class folders 0 and 1."""
    splits = folder.visible_subdirs(path)
    names = {d.name for d in splits}
    if "valid" not in names or not names <= {"train", "valid", "test"}:
        return False
    return all({d.name for d in folder.visible_subdirs(s)} == {"0", "1"} for s in splits)


def load_folder(path: Path, options: LoadOptions) -> ImageData:
    if not is_pcam_folder(path):
        raise SynthclError(f"{path}: not a PCam folder; expected {{train,valid,test}}/{{0,1}}/"
                           f"*.jpg (use --format folder for other class folders)")
    files = [LabelledFile(f.path, CLASS_NAMES[int(f.label)], f.split)
             for f in folder.scan(path)]
    return build_image_data(files, options, name="pcam", format="pcam-folder", source=path,
                            modality="histology", official="official PCam splits (folders)",
                            class_names=CLASS_NAMES)
