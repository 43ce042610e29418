"""The imaging modality of a dataset, which picks the fine-tuning augmentation.

Fixed for the formats that imply it (PCam: histology, WM-811K: wafer, elpv:
electroluminescence, MedMNIST: by set name). For image folders and manifests it is guessed from
the dataset's folder and file names (e.g. 'thermal'/'infrared'/'flir' -> thermal, 'fundus'/'dr'/
'retina' -> retina); 'unknown' when nothing matches. ``synthcl info`` shows the result; the
fine-tuning ``augment`` setting overrides what it implies.
"""

from __future__ import annotations

import re
from pathlib import Path

_KEYWORDS = (
    ("thermal", r"thermal|infrared|flir|thermography"),
    ("retina", r"retina|retinal|fundus|retinopathy|dr|aptos|eyepacs|messidor|oct"),
    ("histology", r"pcam|camelyon|histology|histopathology|pathology|patchcamelyon"),
    ("xray", r"x-?ray|chest|cxr|pneumonia"),
    ("wafer", r"wafer|wm-?811k|lswmd"),
    ("microscopy", r"microscopy|tissue|blood|bbbc"),
    ("electroluminescence", r"elpv|electroluminescence"),
)


def guess_modality(path: Path) -> str:
    """Match keywords (as whole words, '_', '-', '.' and digits separate words) in the last
    two components of ``path``."""
    text = " ".join(path.resolve().parts[-2:]).lower()
    for modality, pattern in _KEYWORDS:
        if re.search(rf"(?<![a-z])(?:{pattern})(?![a-z])", text):
            return modality
    return "unknown"
