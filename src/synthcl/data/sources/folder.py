"""Image folders: ``ROOT/class/*.ext`` or ``ROOT/split/class/*.ext``.

Extensions: png, jpg, jpeg, bmp, tif, tiff (any case). Class names are the folder names, in
natural order ('2' before '10'). The split layout is used when every folder under ROOT is a
split name (train/training, val/valid/validation/dev, test/testing); without a test folder a
seeded stratified test split is cut from train (see ``splits``). Hidden files and folders are
ignored. Images of differing sizes need ``--image-size``.

Left out, and said so in ``ImageData.notes`` (``synthcl info`` and a warning): mask or
annotation files (``*_mask*``, ``*_seg*``, anything under a ``masks/`` folder, e.g. the BUSI
layout ``benign (1).png`` beside ``benign (1)_mask.png``), images lying beside the class folders,
images in sub-folders of a class folder, and class folders without images.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from synthcl.data.sources.images import IMAGE_EXTENSIONS
from synthcl.data.sources.labelled_files import LabelledFile, build_image_data
from synthcl.data.sources.modality import guess_modality
from synthcl.data.sources.options import LoadOptions
from synthcl.data.sources.splits import split_name
from synthcl.data.types import ImageData
from synthcl.errors import SynthclError

MASK_NAME = re.compile(r"_(mask|seg)", re.IGNORECASE)
MASK_FOLDERS = ("mask", "masks")


def is_mask(path: str | Path) -> bool:
    """A mask or annotation file by its name (``x_mask.png``, ``x_seg1.png``)."""
    return bool(MASK_NAME.search(Path(path).stem))


@dataclass
class Skipped:
    """What a folder scan left out, for ``ImageData.notes``."""

    masks: int = 0
    loose: list[str] = field(default_factory=list)
    nested: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)

    def notes(self) -> tuple[str, ...]:
        out = []
        if self.masks:
            out.append(f"left out {self.masks} mask/annotation file(s) (*_mask*, *_seg*, "
                       f"masks/); they are not training images")
        if self.loose:
            out.append(f"skipped {len(self.loose)} image(s) lying beside the class folders "
                       f"(e.g. {self.loose[0]}); move them into their class folder")
        if self.nested:
            out.append(f"skipped {len(self.nested)} image(s) in sub-folders of class folders "
                       f"(e.g. {self.nested[0]}); move them up into the class folder")
        if self.empty:
            out.append(f"class folder(s) {', '.join(self.empty)} hold no images and are left "
                       f"out")
        return tuple(out)


def _all_images(directory: Path) -> list[str]:
    return [os.path.join(top, name) for top, dirs, names in os.walk(directory)
            for name in names if name.lower().endswith(IMAGE_EXTENSIONS)
            and not name.startswith(".")]


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


def _class_files(directory: Path, split: str | None, skipped: Skipped) -> list[LabelledFile]:
    """Images of the class folders of ``directory``; what is left out goes into ``skipped``."""
    files = []
    skipped.loose += image_files(directory)
    for c in visible_subdirs(directory):
        if c.name.lower() in MASK_FOLDERS:
            skipped.masks += len(_all_images(c))
            continue
        images = image_files(c)
        kept = [p for p in images if not is_mask(p)]
        skipped.masks += len(images) - len(kept)
        for sub in visible_subdirs(c):
            inner = _all_images(sub)
            if sub.name.lower() in MASK_FOLDERS:
                skipped.masks += len(inner)
            else:
                skipped.nested += inner
        if not kept:
            skipped.empty.append(c.name)
        files += [LabelledFile(p, c.name, split) for p in kept]
    return files


def scan(root: Path, skipped: Skipped | None = None) -> list[LabelledFile]:
    """Every image under ``root`` with its class (folder name) and split (None: no split);
    what is left out is counted in ``skipped``."""
    skipped = skipped if skipped is not None else Skipped()
    subdirs = visible_subdirs(root)
    splits = [d for d in subdirs if split_name(d.name)]
    if splits and len(splits) < len(subdirs):
        others = [d.name for d in subdirs if not split_name(d.name)]
        raise SynthclError(f"{root}: mixes split folders ({', '.join(d.name for d in splits)}) "
                           f"with other folders ({', '.join(others)}); use either class/*.ext "
                           f"or split/class/*.ext")
    if splits:
        skipped.loose += image_files(root)
        files = [f for d in splits for f in _class_files(d, split_name(d.name), skipped)]
    else:
        files = _class_files(root, None, skipped)
    if not files:
        loose = " (images lying directly in it must go into one sub-folder per class)" \
            if has_images(root) else ""
        raise SynthclError(f"{root}: no images found in class/*.ext or split/class/*.ext "
                           f"(extensions {', '.join(IMAGE_EXTENSIONS)}){loose}")
    return files


def load(path: Path, options: LoadOptions) -> ImageData:
    if not path.is_dir():
        raise SynthclError(f"{path}: the folder format needs a folder of class sub-folders")
    skipped = Skipped()
    files = scan(path, skipped)
    return build_image_data(files, options, name=path.resolve().name, format="folder",
                            source=path, modality=guess_modality(path),
                            official="official splits (train/val/test folders)",
                            notes=skipped.notes())
