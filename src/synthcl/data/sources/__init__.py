"""Data sources: every native format loads to the one in-memory form, ``ImageData``.

One module per format; ``detect`` picks the format from a path, ``FORMATS`` lists them with a
line each (``synthcl info --formats``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from synthcl.data.sources import elpv, folder, manifest, medmnist, pcam, wafer
from synthcl.data.sources.options import LoadOptions
from synthcl.data.types import ImageData


@dataclass(frozen=True)
class SourceFormat:
    name: str
    reads: str
    load: Callable[[Path, LoadOptions], ImageData]


FORMATS: dict[str, SourceFormat] = {f.name: f for f in (
    SourceFormat("medmnist", "MedMNIST v2 .npz ({train,val,test}_{images,labels}), any set/size",
                 medmnist.load),
    SourceFormat("pcam-h5", "PatchCamelyon camelyonpatch_level_2_split_{train,valid,test}_{x,y}"
                            ".h5 (their folder or one of them)", pcam.load_h5),
    SourceFormat("pcam-folder", "PatchCamelyon JPEG folders {train,valid,test}/{0,1}/*.jpg",
                 pcam.load_folder),
    SourceFormat("wafer-pkl", "WM-811K LSWMD.pkl, labelled maps, 45x45 (needs --allow-pickle)",
                 wafer.load),
    SourceFormat("folder", "image folders class/*.ext or split/class/*.ext "
                           "(png, jpg, jpeg, bmp, tif, tiff)", folder.load),
    SourceFormat("manifest", "CSV/JSON listing image path, class and optional split",
                 manifest.load),
    SourceFormat("elpv", "embedded elpv-dataset solar cells (--data elpv, the default)",
                 elpv.load),
)}
