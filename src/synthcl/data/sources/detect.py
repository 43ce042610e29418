"""Which format a ``--data`` path holds, and the file a format reads from a folder.

Files: ``.npz`` -> medmnist, ``.h5``/``.hdf5`` -> pcam-h5, ``.pkl``/``.pickle`` -> wafer-pkl,
``.csv``/``.json`` -> manifest. Folders, in this order: PCam HDF5 files -> pcam-h5;
``{train,valid,test}/{0,1}/`` (PCam's 'valid' and classes 0/1) -> pcam-folder; one manifest file
(.csv/.json) while fewer than two class folders hold images -> manifest (e.g. InfraredSolarModules:
``module_metadata.json`` + ``images/``); class folders with images -> folder; a lone ``.npz`` or
``.pkl`` -> medmnist / wafer-pkl. The name ``elpv`` (or no path) is the embedded dataset.
``--format`` skips detection.
"""

from __future__ import annotations

import os
from pathlib import Path

from synthcl.data.sources import folder, pcam
from synthcl.data.sources.images import IMAGE_EXTENSIONS
from synthcl.errors import SynthclError

EMBEDDED = "elpv"
_FILE_FORMATS = {".npz": "medmnist", ".h5": "pcam-h5", ".hdf5": "pcam-h5", ".pkl": "wafer-pkl",
                 ".pickle": "wafer-pkl", ".csv": "manifest", ".json": "manifest"}
_SINGLE_FILE = {"medmnist": (".npz",), "wafer-pkl": (".pkl", ".pickle"),
                "manifest": (".csv", ".json")}


def _top_files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    with os.scandir(directory) as entries:
        return sorted(Path(e.path) for e in entries if e.is_file() and not e.name.startswith(".")
                      and e.name.lower().endswith(suffixes))


def detect_format(path: Path) -> str:
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in _FILE_FORMATS:
            return _FILE_FORMATS[suffix]
        if suffix == ".gz":
            raise SynthclError(f"--data {path}: decompress it first (gunzip {path.name})")
        if suffix in IMAGE_EXTENSIONS:
            raise SynthclError(f"--data {path}: a single image is not a dataset; point --data at "
                               f"a folder of class sub-folders or at a manifest")
        raise SynthclError(f"--data {path}: unknown file type '{suffix}'; supported: "
                           f"{', '.join(_FILE_FORMATS)} files or image folders (or use --format)")
    if pcam.has_h5_files(path):
        return "pcam-h5"
    if pcam.is_pcam_folder(path):
        return "pcam-folder"
    manifests = _top_files(path, _SINGLE_FILE["manifest"])
    classes = folder.class_folder_count(path)
    if len(manifests) == 1 and classes < 2:
        return "manifest"
    if classes:
        return "folder"
    for name in ("medmnist", "wafer-pkl"):
        if len(_top_files(path, _SINGLE_FILE[name])) == 1:
            return name
    raise SynthclError(
        f"--data {path}: cannot tell its format (no class folders with images, no single .npz, "
        f".pkl, .csv or .json); pass --format, or see `synthcl info --formats`")


def resolve(path: str | os.PathLike | None, format: str | None,
            known: tuple[str, ...]) -> tuple[str, Path | None]:
    """(format, path to read) for a ``--data`` value and an optional ``--format``."""
    if format is not None and format not in known:
        raise SynthclError(f"--format {format}: unknown format; choose one of {', '.join(known)}")
    if path is None or str(path) == EMBEDDED:
        if format not in (None, EMBEDDED):
            raise SynthclError(f"--format {format} needs --data PATH ('{EMBEDDED}' is the "
                               f"embedded dataset)")
        return EMBEDDED, None
    if format == EMBEDDED:
        raise SynthclError(f"--format {EMBEDDED} is the embedded dataset and takes no path "
                           f"(got --data {path}); use --data {EMBEDDED}")
    path = Path(os.path.abspath(Path(path).expanduser()))
    if not path.exists():
        raise SynthclError(f"--data {path}: no such file or folder; check the path (a relative "
                           f"path is read from the current folder)")
    format = format or detect_format(path)
    if path.is_dir() and format in _SINGLE_FILE:
        candidates = _top_files(path, _SINGLE_FILE[format])
        if len(candidates) != 1:
            raise SynthclError(
                f"--data {path}: format {format} reads one {'/'.join(_SINGLE_FILE[format])} file "
                f"but the folder holds {len(candidates)}; point --data at the file")
        path = candidates[0]
    elif path.is_file() and format in ("folder", "pcam-folder"):
        raise SynthclError(f"--data {path}: format {format} needs a folder, not a file")
    return format, path
