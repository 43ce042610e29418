"""Every weight file synthcl reads or writes, in one place.

Layouts read (each with ``torch.load(weights_only=True)`` on the CPU, nothing else: a file that
holds more than tensors and plain containers is refused, never unpickled):

- a pre-training checkpoint, ``checkpoint.pt`` (``"format": "synthcl-pretrain-v1"``): the
  backbone, the MoCo model (query encoder's MLP head included), optimiser and resume state;
- ``backbone.pt`` or any backbone state dict in torchvision's layout (``conv1.weight``, ...);
- a torchvision classifier state dict (ImageNet-1k ResNet-18/50): its ``fc.*`` is dropped;
- a checkpoint of the reference MoCo code (``{"state_dict": {"module.encoder_q.<k>": ...}}``):
  the query encoder is kept, its MLP head (``fc.0``/``fc.2``) kept apart, the key encoder dropped;
- a fine-tuned model, ``model.pt`` (``"format": "synthcl-finetune-v1"``).

``--init`` (pre-training and fine-tuning alike) names weights as ``scratch``, ``imagenet[:FILE]``
(a bare ``imagenet`` or ``imagenet:resnet50`` looks in torchvision's cache,
``$TORCH_HOME/hub/checkpoints``; nothing is downloaded), ``moco:FILE`` or a path, whose layout is
recognised. A pre-training folder is read through its ``checkpoint.pt``, which says whether the
run finished; without one, its ``backbone.pt``. An unfinished pre-training is refused unless
``allow_unfinished`` is given. Every user error is one :class:`~synthcl.errors.SynthclError`
line that names the file and the fix.

``synthcl.pretraining.checkpoint`` keeps what only the trainer knows (the RNG state and the check
that a resumed run has its own settings); the checkpoint file itself is written and read here.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from torch import nn

from synthcl.data.sources.detect import EMBEDDED
from synthcl.errors import SynthclError
from synthcl.models import infer_architecture
from synthcl.utils.atomic import torch_save

PRETRAIN_FORMAT = "synthcl-pretrain-v1"
MODEL_FORMAT = "synthcl-finetune-v1"
CHECKPOINT, BACKBONE, MODEL = "checkpoint.pt", "backbone.pt", "model.pt"
MODEL_KEYS = ("classifier", "architecture", "class_names", "image_hw", "data", "config", "result")
MOCO_PREFIXES = ("module.encoder_q.", "encoder_q.")
MOCO_HEAD = ("fc.0.", "fc.2.")
TORCHVISION_URL = "https://download.pytorch.org/models/"
IMAGENET_FILES = {  # torchvision's ImageNet-1k weights, the first one suggested
    "resnet18": ("resnet18-f37072fd.pth",),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"),
}
INIT_FORMS = ("scratch, imagenet[:FILE], moco:FILE, or a 'synthcl pretrain' folder, its "
              "checkpoint.pt or backbone.pt")

State = dict[str, torch.Tensor]


# -- reading and writing files ---------------------------------------------------------------
def load(path: str | os.PathLike, what: str, mmap: bool = False) -> Any:
    """``torch.load(weights_only=True)`` on the CPU; ``what`` starts every error message (the
    option and value that named the file). ``mmap`` maps a zip-format file instead of reading
    it (for large files of which only a part is used)."""
    path = Path(path)
    if not path.is_file():
        raise SynthclError(f"{what}: {path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True,
                          mmap=mmap and zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:
            raise SynthclError(f"{what}: {path} is not a readable PyTorch file (truncated or of "
                               "another kind); pass a file written by torch.save") from exc
        raise SynthclError(
            f"{what}: {path} holds a {found.group(1)} object, more than tensors and plain "
            "containers, and synthcl only reads weights with torch.load(weights_only=True); "
            "re-save the state dict alone with torch.save(model.state_dict(), FILE)") from exc
    except Exception as exc:  # noqa: BLE001 - any other failure means an unusable file
        raise SynthclError(f"{what}: {path} is not a readable PyTorch file (truncated or of "
                           f"another kind: {type(exc).__name__}); pass a file written by "
                           "torch.save") from exc


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write a pre-training checkpoint (atomically)."""
    torch_save({"format": PRETRAIN_FORMAT, **state}, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A pre-training checkpoint to resume from."""
    state = load(path, "--resume")
    if not isinstance(state, dict) or state.get("format") != PRETRAIN_FORMAT:
        raise SynthclError(f"--resume: {path} is not a synthcl pre-training checkpoint "
                           f"({PRETRAIN_FORMAT}); remove it or choose another --out")
    return state


def save_model(path: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write a fine-tuned model file (atomically); a relative ``meta["data"]["data"]`` path
    (relative to the current folder) is recorded relative to the file's folder instead, so that
    it resolves from anywhere."""
    path = Path(path)
    data = dict(meta["data"])
    if _relative_path(data.get("data")):
        data["data"] = os.path.relpath(os.path.abspath(data["data"]),
                                       os.path.abspath(path.parent))
    torch_save({"format": MODEL_FORMAT, **meta, "data": data}, path)


def load_model(path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """(file, content) of a fine-tuned model: ``path`` = model.pt or the folder holding one. The
    recorded data path is returned resolved against the file's folder."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL
    what = f"--checkpoint {path}"
    if not path.is_file():
        raise SynthclError(f"{what}: no such file; pass a model.pt written by 'synthcl finetune' "
                           "(DIR/seed<k>/model.pt)")
    meta = load(path, "--checkpoint")
    if isinstance(meta, dict) and meta.get("format") == PRETRAIN_FORMAT:
        raise SynthclError(
            f"{what}: this is a pre-training checkpoint, not a fine-tuned synthcl model; evaluate "
            f"wants the model.pt of 'synthcl finetune' (DIR/seed<k>/model.pt): fine-tune and "
            f"measure this pre-training with 'synthcl finetune --init {path.parent}'")
    if not isinstance(meta, dict) or meta.get("format") != MODEL_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise SynthclError(f"{what}: not a fine-tuned synthcl model (format {found!r}, expected "
                           f"{MODEL_FORMAT!r}); pass a model.pt written by 'synthcl finetune'")
    lacking = [key for key in MODEL_KEYS if key not in meta]
    if lacking:
        raise SynthclError(f"{what}: an incomplete model file (no {', '.join(lacking)}); "
                           "fine-tune again with 'synthcl finetune'")
    if _relative_path(meta["data"].get("data")):
        meta["data"]["data"] = os.path.normpath(path.parent / meta["data"]["data"])
    return path, meta


def _relative_path(data: object) -> bool:
    """Whether a recorded ``data`` value is a relative path (not the embedded dataset's name)."""
    return isinstance(data, str) and data != EMBEDDED and not (
        data.startswith("~") or os.path.isabs(data))


# -- initial weights -------------------------------------------------------------------------
@dataclass(frozen=True)
class InitWeights:
    """What ``--init`` names: ``kind`` scratch | synthcl | torchvision | imagenet | moco, and but
    for scratch the backbone state dict (torchvision layout, no ``fc``), the MoCo MLP head when the
    file has one (keys ``0.*``/``2.*``) and the backbone's architecture (arch, width, small_stem).
    """

    kind: str
    path: str | None = None
    backbone: State | None = None
    head: State | None = None
    architecture: dict | None = None

    def describe(self) -> dict:
        return {"kind": self.kind, "path": self.path}


def read_init(init: str, arch: str = "resnet18", *, allow_unfinished: bool = False
              ) -> InitWeights:
    """Read the weights ``init`` names; ``arch`` picks the file for a bare ``imagenet``."""
    if init == "scratch":
        return InitWeights("scratch")
    kind, sep, rest = init.partition(":")
    what = f"--init {init}"
    if init == "imagenet" or (sep and kind == "imagenet"):
        path = imagenet_file(rest or arch, what)
        return _weights("imagenet", path, _torchvision(load(path, what), path, what), None, what)
    if sep and kind == "moco":
        path = Path(rest).expanduser()
        return _weights("moco", path, *_moco(load(path, what), path, what), what)
    return _read_path(init, allow_unfinished)


def imagenet_file(name: str, what: str) -> Path:
    """torchvision's ImageNet file for ``name`` (resnet18/50, from its cache) or a path."""
    if name not in IMAGENET_FILES:
        path = Path(name).expanduser()
        if not path.is_file():
            raise SynthclError(
                f"{what}: {path} does not exist; download torchvision's ImageNet-1k weights "
                f"({TORCHVISION_URL}{IMAGENET_FILES['resnet50'][0]} for ResNet-50, "
                f"{TORCHVISION_URL}{IMAGENET_FILES['resnet18'][0]} for ResNet-18) and pass "
                "their path; nothing is downloaded at run time")
        return path
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    found = [folder / f for f in IMAGENET_FILES[name] if (folder / f).is_file()]
    if not found:
        raise SynthclError(
            f"{what}: torchvision's ImageNet-1k {name} weights are not here and nothing is "
            f"downloaded at run time; download {TORCHVISION_URL}{IMAGENET_FILES[name][0]} into "
            f"{folder}/ (torchvision's cache) or anywhere and pass --init imagenet:PATH")
    return found[0]


def pretraining_file(folder: Path, what: str) -> Path:
    """The file a pre-training folder is read through: checkpoint.pt, else backbone.pt."""
    for name in (CHECKPOINT, BACKBONE):
        if (folder / name).is_file():
            return folder / name
    raise SynthclError(f"{what}: the folder holds neither {CHECKPOINT} nor {BACKBONE}; pass "
                       f"{INIT_FORMS}")


def _read_path(init: str, allow_unfinished: bool) -> InitWeights:
    """Weights from a path, its layout recognised from its content."""
    what = f"--init {init}"
    path = Path(init).expanduser()
    if path.is_dir():
        path = pretraining_file(path, what)
    elif not path.exists():
        raise SynthclError(f"{what}: no such file or folder; use {INIT_FORMS}")
    raw = load(path, what, mmap=True)
    if isinstance(raw, dict) and "format" in raw:
        return _weights("synthcl", path, *_checkpoint(raw, path, what, allow_unfinished), what)
    if isinstance(_unwrap(raw), dict) and _moco_prefix(_unwrap(raw)):
        return _weights("moco", path, *_moco(raw, path, what), what)
    state = _tensor_dict(_unwrap(raw), path, what)
    if any(k.startswith("fc.") for k in state):
        return _weights("torchvision", path, _torchvision(state, path, what), None, what)
    return _weights("synthcl", path, state, None, what)


def _checkpoint(raw: dict, path: Path, what: str,
                allow_unfinished: bool) -> tuple[State, State | None]:
    """(backbone, MLP head) of a pre-training checkpoint that finished (or ``allow_unfinished``)."""
    if raw["format"] != PRETRAIN_FORMAT:
        raise SynthclError(
            f"{what}: {path} is a '{raw['format']}' file, not a pre-training checkpoint "
            f"('{PRETRAIN_FORMAT}'); a fine-tuned model is measured with 'synthcl evaluate "
            "--checkpoint FILE'")
    if "backbone" not in raw:
        raise SynthclError(f"{what}: {path} lacks its 'backbone' weights (an incomplete "
                           f"checkpoint); use the run's {BACKBONE}")
    if raw.get("finished") is not True and not allow_unfinished:
        raise SynthclError(
            f"{what}: the pre-training in {path.parent} has not finished ({path.name} is at "
            f"step {raw.get('step')}); finish it first with 'synthcl pretrain --resume --out "
            f"{path.parent}' (starting from an unfinished run needs allow_unfinished)")
    prefix = "encoder_q.head."
    model = raw.get("model") if isinstance(raw.get("model"), dict) else {}
    head = {k[len(prefix):]: v for k, v in model.items() if k.startswith(prefix)}
    return _tensor_dict(raw["backbone"], path, what), head or None


def _unwrap(raw: object) -> object:
    """The state dict of a training checkpoint that keeps it under 'state_dict'."""
    if isinstance(raw, dict) and isinstance(raw.get("state_dict"), dict):
        return raw["state_dict"]
    return raw


def _moco_prefix(state: dict) -> str | None:
    return next((p for p in MOCO_PREFIXES if any(str(k).startswith(p) for k in state)), None)


def _moco(raw: object, path: Path, what: str) -> tuple[State, State | None]:
    """(backbone, MLP head) of the query encoder of a reference MoCo checkpoint."""
    source = _tensor_dict(_unwrap(raw), path, what)
    prefix = _moco_prefix(source)
    if prefix is None:
        raise SynthclError(
            f"{what}: {path} has no query-encoder weights ('module.encoder_q.*' keys of the "
            f"reference MoCo code); its first keys are {', '.join(list(source)[:5])}")
    encoder = {k[len(prefix):]: v for k, v in source.items() if k.startswith(prefix)}
    head = {k[len("fc."):]: v for k, v in encoder.items() if k.startswith(MOCO_HEAD)}
    return {k: v for k, v in encoder.items() if not k.startswith("fc.")}, head or None


def _torchvision(raw: object, path: Path, what: str) -> State:
    """A torchvision classifier's state dict without its ``fc``."""
    state = _tensor_dict(_unwrap(raw), path, what)
    return {k: v for k, v in state.items() if not k.startswith("fc.")}


def _tensor_dict(obj: object, path: Path, what: str) -> State:
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise SynthclError(f"{what}: {path} does not hold a state dict (a mapping of parameter "
                           "names to tensors)")
    return obj


def _weights(kind: str, path: Path, backbone: State, head: State | None,
             what: str) -> InitWeights:
    try:
        architecture = infer_architecture(backbone)
    except SynthclError as exc:
        keys = ", ".join(list(backbone)[:5])
        raise SynthclError(f"{what}: {exc} (its first keys: {keys})") from exc
    return InitWeights(kind, str(path), backbone, head, architecture)


# -- loading into networks -------------------------------------------------------------------
def load_backbone(backbone: nn.Module, state: State, source: str) -> None:
    """Load ``state`` into ``backbone`` after checking every key and shape; errors name them."""
    expected = backbone.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k} {tuple(state[k].shape)} (the backbone wants {tuple(expected[k].shape)})"
                  for k in state if k in expected and state[k].shape != expected[k].shape]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected),
                        ("mis-shaped", mismatched)):
        if keys:
            shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
            problems.append(f"{len(keys)} {label} key(s): {shown}")
    if problems:
        raise SynthclError(f"--init {source}: the weights do not fit the backbone: "
                           f"{'; '.join(problems)}")
    backbone.load_state_dict(state, strict=False)


def apply_init(encoder: nn.Module, weights: InitWeights, init: str) -> bool:
    """Load ``weights`` into a pre-training encoder (``.backbone`` and the MLP ``.head``);
    returns whether the head was loaded too (it stays random when absent or of another shape).
    ``scratch`` loads nothing."""
    if weights.backbone is None:
        return False
    own = encoder.backbone.describe()
    theirs = weights.architecture
    if {k: own[k] for k in theirs} != theirs:
        raise SynthclError(
            f"--init {init} holds a {theirs['arch']} of width {theirs['width']} "
            f"(small stem: {theirs['small_stem']}); set --arch {theirs['arch']} --set "
            f"width={theirs['width']} --set small_stem={str(theirs['small_stem']).lower()}")
    load_backbone(encoder.backbone, weights.backbone, init)
    head_shapes = {k: v.shape for k, v in encoder.head.state_dict().items()}
    if weights.head and {k: v.shape for k, v in weights.head.items()} == head_shapes:
        encoder.head.load_state_dict(weights.head)
        return True
    return False


# -- ImageNet weights of experiment specs ----------------------------------------------------
@lru_cache(maxsize=4)
def imagenet_architecture(weights: str) -> dict:
    """arch / width / small_stem of an ImageNet weights file (mapped, not read whole)."""
    what, path = f"--imagenet-weights {weights}", Path(weights)
    state = _torchvision(load(path, what, mmap=True), path, what)
    return _weights("imagenet", path, state, None, what).architecture
