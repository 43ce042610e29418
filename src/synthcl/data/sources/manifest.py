"""Manifests: a CSV or JSON file listing image files with their class and optional split.

Image paths are relative to the manifest's folder and must lie inside it (absolute paths inside
it work too); a path leading outside, such as ``../../etc/passwd``, is refused before anything
is opened, unless ``--allow-outside-paths`` (``outside_paths=True``) is given. Column / key
names are matched case-insensitively:

- image path: image_filepath, image_path, filepath, file_path, filename, file, path, image
- class:      label, class, class_name, anomaly_class, category, target
- split (optional): split, subset, set, partition; values train/training, val/valid/
  validation/dev, test/testing. Without it a seeded stratified test split is made.

CSV: a header row naming the columns. JSON: a list of records, or an object mapping ids to
records (e.g. InfraredSolarModules' ``{"13357": {"image_filepath": "images/13357.jpg",
"anomaly_class": "No-Anomaly"}, ...}``). Images keep the manifest's order.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from synthcl.data.sources.labelled_files import LabelledFile, build_image_data
from synthcl.data.sources.modality import guess_modality
from synthcl.data.sources.options import LoadOptions
from synthcl.data.sources.splits import split_aliases, split_name
from synthcl.data.types import ImageData
from synthcl.errors import SynthclError

PATH_KEYS = ("image_filepath", "image_path", "filepath", "file_path", "filename", "file", "path",
             "image")
LABEL_KEYS = ("label", "class", "class_name", "anomaly_class", "category", "target")
SPLIT_KEYS = ("split", "subset", "set", "partition")
EXTENSIONS = (".csv", ".json")


def _read_records(path: Path) -> list[dict]:
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:
                return list(csv.DictReader(fh))
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, csv.Error, json.JSONDecodeError) as exc:
        raise SynthclError(f"manifest {path}: cannot read it ({exc}); save it as UTF-8 CSV "
                           f"with a header row, or as JSON") from exc
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        return list(data.values())
    if isinstance(data, list) and all(isinstance(v, dict) for v in data):
        return data
    raise SynthclError(f"manifest {path}: expected a list of records or an object mapping ids to "
                       f"records, each with an image path and a class")


def _pick(keys: list[str], wanted: tuple[str, ...]) -> str | None:
    by_lower = {k.strip().lower(): k for k in keys}
    return next((by_lower[w] for w in wanted if w in by_lower), None)


def _contained(image: str, folder: str, path: Path, number: int) -> None:
    real = os.path.realpath(image)
    if os.path.commonpath([real, folder]) != folder:
        raise SynthclError(f"manifest {path}: entry {number} points outside the manifest's "
                           f"folder ({image}); move the image into {folder}, or pass "
                           f"--allow-outside-paths if you trust this manifest")


def _files(path: Path, records: list[dict], outside_paths: bool) -> list[LabelledFile]:
    keys = list(records[0]) if records else []
    path_key, label_key = _pick(keys, PATH_KEYS), _pick(keys, LABEL_KEYS)
    split_key = _pick(keys, SPLIT_KEYS)
    if path_key is None or label_key is None:
        raise SynthclError(
            f"manifest {path}: found columns/keys {', '.join(keys) or 'none'}; it needs an image "
            f"path ({', '.join(PATH_KEYS)}) and a class ({', '.join(LABEL_KEYS)}), optionally a "
            f"split ({', '.join(SPLIT_KEYS)})")
    folder = os.path.realpath(path.parent)
    files = []
    for number, record in enumerate(records, start=1):
        if record.get(path_key) in (None, "") or record.get(label_key) in (None, ""):
            raise SynthclError(f"manifest {path}: entry {number} lacks '{path_key}' or "
                               f"'{label_key}'; give every entry an image path and a class")
        image = os.path.join(folder, str(record[path_key]))
        if not outside_paths:
            _contained(image, folder, path, number)
        split = None
        if split_key is not None:
            split = split_name(record.get(split_key) or "")
            if split is None:
                raise SynthclError(f"manifest {path}: entry {number} has {split_key}="
                                   f"{record.get(split_key)!r}; expected one of {split_aliases()}")
        files.append(LabelledFile(image, str(record[label_key]).strip(), split))
    return files


def load(path: Path, options: LoadOptions) -> ImageData:
    if path.suffix.lower() not in EXTENSIONS:
        raise SynthclError(f"{path}: a manifest must be a .csv or .json file")
    files = _files(path, _read_records(path), options.outside_paths)
    if not files:
        raise SynthclError(f"manifest {path}: lists no images")
    return build_image_data(files, options, name=path.resolve().parent.name, format="manifest",
                            source=path, modality=guess_modality(path),
                            official=f"splits given by the manifest {path.name}")
