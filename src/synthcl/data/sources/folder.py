"""Image folders: ``ROOT/class/*.ext`` or ``ROOT/split/class/*.ext``.

Extensions: png, jpg, jpeg, bmp, tif, tiff (any case). Class names are the folder names, in
natural order ('2' before '10'). The split layout is used when every folder under ROOT is a
split name (train/training, val/valid/validation/dev, test/testing); without a test folder a
seeded stratified test split is cut from train (see ``splits``). Hidden files and folders are
ignored. Images of differing sizes need ``--image-size``.
"""

from __future__ import annotations

import os
from pathlib import Path

from synthcl.data.sources.images import IMAGE_EXTENSIONS
from synthcl.data.sources.labelled_files import LabelledFile, build_image_data
from synthcl.data.sources.modality import guess_modality
from synthcl.data.sources.options import LoadOptions
from synthcl.data.sources.splits import split_name
from synthcl.data.types import ImageData
from synthcl.errors import SynthclError


def visible_subdirs(path: Path) -> list[Path]:
    with os.scandir(path) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir() and not e.name.startswith("."))


def _is_image(entry: os.DirEntry) -> bool:
    return (not entry.name.startswith(".") and entry.name.lower().endswith(IMAGE_EXTENSIONS)
            and entry.is_file())


def image_files(directory: Path) -> list[str]:
    """Image file paths (strings) in ``directory``, sorted."""
    with os.scandir(directory) as entries:
        return sorted(e.path for e in entries if _is_image(e))


def has_images(directory: Path) -> bool:
    with os.scandir(directory) as entries:
        return any(_is_image(e) for e in entries)


def class_folder_count(path: Path) -> int:
    """Sub-folders that hold images themselves or in their own sub-folders (split layout)."""
    return sum(1 for d in visible_subdirs(path)
               if has_images(d) or any(has_images(s) for s in visible_subdirs(d)))


def _class_files(directory: Path, split: str | None) -> list[LabelledFile]:
    return [LabelledFile(p, c.name, split) for c in visible_subdirs(directory)
            for p in image_files(c)]


def scan(root: Path) -> list[LabelledFile]:
    """Every image under ``root`` with its class (folder name) and split (None: no split)."""
    subdirs = visible_subdirs(root)
    splits = [d for d in subdirs if split_name(d.name)]
    if splits and len(splits) < len(subdirs):
        others = [d.name for d in subdirs if not split_name(d.name)]
        raise SynthclError(f"{root}: mixes split folders ({', '.join(d.name for d in splits)}) "
                           f"with other folders ({', '.join(others)}); use either class/*.ext "
                           f"or split/class/*.ext")
    if splits:
        files = [f for d in splits for f in _class_files(d, split_name(d.name))]
    else:
        files = _class_files(root, None)
    if not files:
        loose = " (images lying directly in it must go into one sub-folder per class)" \
            if has_images(root) else ""
        raise SynthclError(f"{root}: no images found in class/*.ext or split/class/*.ext "
                           f"(extensions {', '.join(IMAGE_EXTENSIONS)}){loose}")
    return files


def load(path: Path, options: LoadOptions) -> ImageData:
    if not path.is_dir():
        raise SynthclError(f"{path}: the folder format needs a folder of class sub-folders")
    return build_image_data(scan(path), options, name=path.resolve().name, format="folder",
                            source=path, modality=guess_modality(path),
                            official="official splits (train/val/test folders)")
