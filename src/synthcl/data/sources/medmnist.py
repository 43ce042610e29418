"""MedMNIST v2 ``.npz`` (any set, any size variant such as ``tissuemnist_64.npz``).

Arrays ``{train,val,test}_images`` ((n, H, W) grayscale or (n, H, W, 3) colour, uint8) and
``{train,val,test}_labels`` ((n, 1)); the official splits are kept. Class names are MedMNIST's
own for the sets named below (BloodMNIST's long name of class 3 shortened), "0".."k-1" otherwise;
the modality follows the set name.
Multi-label (ChestMNIST) and 3-D sets are refused with an explanation.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from synthcl.data.sources.images import resize_array
from synthcl.data.sources.options import LoadOptions
from synthcl.data.types import SPLITS, ImageData, Split
from synthcl.errors import SynthclError

_ORGANS = ("bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right",
           "liver", "lung-left", "lung-right", "pancreas", "spleen")

# set name -> (modality, class names in label order)
KNOWN_SETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pneumoniamnist": ("xray", ("normal", "pneumonia")),
    "tissuemnist": ("microscopy", (
        "Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule",
        "Glomerular endothelial cells", "Interstitial endothelial cells", "Leukocytes",
        "Podocytes", "Proximal Tubule Segments", "Thick Ascending Limb")),
    "pathmnist": ("histology", (
        "adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
        "normal colon mucosa", "cancer-associated stroma",
        "colorectal adenocarcinoma epithelium")),
    "bloodmnist": ("microscopy", (
        "basophil", "eosinophil", "erythroblast", "immature granulocytes", "lymphocyte",
        "monocyte", "neutrophil", "platelet")),
    "octmnist": ("retina", ("choroidal neovascularization", "diabetic macular edema", "drusen",
                            "normal")),
    "retinamnist": ("retina", ("0", "1", "2", "3", "4")),
    "breastmnist": ("unknown", ("malignant", "normal, benign")),
    "dermamnist": ("unknown", (
        "actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
        "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
        "vascular lesions")),
    "organamnist": ("unknown", _ORGANS),
    "organcmnist": ("unknown", _ORGANS),
    "organsmnist": ("unknown", _ORGANS),
}


def set_name(path: Path) -> str:
    """'tissuemnist_224.npz' -> 'tissuemnist'."""
    return re.sub(r"_\d+$", "", path.stem.lower())


def _split(archive, name: str, path: Path) -> Split:
    images, labels = archive[f"{name}_images"], archive[f"{name}_labels"]
    if labels.ndim == 2 and labels.shape[1] > 1:
        raise SynthclError(f"{path}: {name}_labels has shape {labels.shape}, a multi-label set "
                           f"(like ChestMNIST); synthcl needs one class per image")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[3] not in (1, 3):
        raise SynthclError(f"{path}: {name}_images has shape {images.shape}; expected 2-D "
                           f"images (n, H, W) or (n, H, W, 3) (3-D MedMNIST sets are not "
                           f"supported)")
    if images.dtype != np.uint8:
        raise SynthclError(f"{path}: {name}_images is {images.dtype}, expected uint8")
    return Split(images, labels.reshape(-1).astype(np.int64))


def _numbered_classes(splits: dict[str, Split], path: Path) -> tuple[str, ...]:
    """Classes "0".."k-1" of a set not named above; a gap in the labels is refused (a label
    out of range would otherwise add classes without images)."""
    present = np.unique(np.concatenate([split.labels for split in splits.values()]))
    k = int(present.max()) + 1 if len(present) else 0
    if len(present) != k or (len(present) and present.min() < 0):
        missing = sorted(set(range(k)) - set(present.tolist()))[:5]
        raise SynthclError(f"{path}: labels {present.tolist()[:10]} leave classes {missing} "
                           f"without an image; labels must be 0..k-1 for k classes, so fix the "
                           f"out-of-range labels")
    return tuple(str(i) for i in range(k))


def load(path: Path, options: LoadOptions) -> ImageData:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [f"{s}_{kind}" for s in SPLITS for kind in ("images", "labels")
                       if f"{s}_{kind}" not in archive.files]
            if missing:
                raise SynthclError(
                    f"{path}: not a MedMNIST file, missing {', '.join(missing)} (found "
                    f"{', '.join(archive.files) or 'nothing'}); use --format to pick another "
                    f"format")
            splits = {s: _split(archive, s, path) for s in SPLITS}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SynthclError(f"{path}: cannot read it as a MedMNIST .npz ({exc}); give a numpy "
                           f".npz of plain arrays {{train,val,test}}_{{images,labels}}, or use "
                           f"--format") from exc
    if options.image_size:
        splits = {s: Split(resize_array(split.images, options.image_size), split.labels)
                  for s, split in splits.items()}
    name = set_name(path)
    modality, names = KNOWN_SETS.get(name, ("unknown", ()))
    names = names or _numbered_classes(splits, path)
    for split_name, split in splits.items():
        bad = split.labels[(split.labels < 0) | (split.labels >= len(names))]
        if len(bad):
            raise SynthclError(f"{path}: {split_name}_labels holds {len(bad)} label(s) outside "
                               f"the {len(names)} classes 0..{len(names) - 1} (e.g. {bad[0]}); "
                               f"fix or remove those images")
    return ImageData(name=name, format="medmnist", source=str(path), class_names=names,
                     splits=splits, split_note="official MedMNIST train/val/test splits",
                     modality=modality)
