"""``elpv``: the 2,624 electroluminescence images of solar cells shipped with the PyPI package
``elpv-dataset`` (300x300 grayscale), the embedded default that needs no path.

Classes are the four defect probabilities the experts assigned, named "p=0.00", "p=0.33",
"p=0.67" and "p=1.00" (1508 / 295 / 106 / 715 images). The package has no official split, so
the seeded stratified split applies. The PNG files are decoded here directly (on a thread
pool, then cached) rather than by the package's own sequential loader.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from synthcl.data.sources.labelled_files import LabelledFile, build_image_data
from synthcl.data.sources.options import LoadOptions
from synthcl.data.types import ImageData
from synthcl.errors import SynthclError

NAME = "elpv"
CLASS_NAMES = ("p=0.00", "p=0.33", "p=0.67", "p=1.00")


def labels_file() -> Path:
    try:
        path = Path(str(resources.files("elpv_dataset") / "data" / "labels.csv"))
    except ModuleNotFoundError as exc:
        raise SynthclError("the embedded dataset 'elpv' needs the package elpv-dataset: "
                           "pip install elpv-dataset") from exc
    if not path.is_file():
        raise SynthclError(f"the elpv-dataset package is incomplete: {path} is missing; "
                           f"reinstall it (pip install --force-reinstall elpv-dataset)")
    return path


def _class_name(probability: str) -> str:
    return f"p={float(probability):.2f}"


def load(path: Path | None, options: LoadOptions) -> ImageData:
    labels = labels_file()
    folder = str(labels.parent)
    files = []
    for line in labels.read_text().splitlines():
        if line.strip():
            image, probability, _cell_type = line.split()
            files.append(LabelledFile(os.path.join(folder, image), _class_name(probability)))
    return build_image_data(files, options, name=NAME, format="elpv", source=labels.parent,
                            modality="electroluminescence", official="",
                            class_names=CLASS_NAMES)
