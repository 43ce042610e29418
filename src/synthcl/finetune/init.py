"""Initialisations of the classifier's backbone (``FinetuneConfig.init``).

- ``scratch``: random weights (torchvision's initialisation), seeded: the same seed gives the same
  network, two seeds give different ones.
- a synthcl pre-training run: its ``--out`` folder, its ``checkpoint.pt`` or its ``backbone.pt``
  (the folder prefers ``backbone.pt``, written when the run finished).
- ``imagenet:FILE``: torchvision's ImageNet-1k ResNet-18/50 state dict (``fc`` dropped).
  ``imagenet`` or ``imagenet:resnet50`` looks for torchvision's file in torchvision's own cache
  folder (``$TORCH_HOME/hub/checkpoints``). Nothing is downloaded at run time: without the file the
  error says which URL to fetch and where to put it.
- ``moco:FILE``: a checkpoint of the reference MoCo code (``{"state_dict": {"module.encoder_q.<k>":
  ...}}``, as the published synthetic-image encoders): the query encoder is kept, its MLP head
  (``fc.0``/``fc.2``) and the key encoder are dropped.

The architecture (arch, width, stem) of loaded weights is read from the weights themselves; an
arch/width/small_stem the user explicitly gave that contradicts them is an error. ImageNet and MoCo
weights keep their own stem (7x7 convolution at stride 2 and max-pool) even for small images:
the stem's pre-trained weights are used as they are, and a 28x28 input reaches layer4 at 1x1
(pass ``--image-size`` to upsample small images instead). Every load checks the backbone's keys
and shapes and names the missing, unexpected or mis-shaped ones. Files are read with
``torch.load(weights_only=True)`` only.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import torch

from synthcl.errors import SynthclError
from synthcl.finetune.classifier import Classifier
from synthcl.models import build_backbone, infer_architecture

TORCHVISION_URL = "https://download.pytorch.org/models/"
IMAGENET_FILES = {  # torchvision's ImageNet-1k weights, the first one suggested
    "resnet18": ("resnet18-f37072fd.pth",),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth"),
}
MOCO_PREFIXES = ("module.encoder_q.", "encoder_q.")
PRETRAIN_FORMAT = "synthcl-pretrain-v1"
ARCH_FIELDS = ("arch", "width", "small_stem")


@dataclass(frozen=True)
class InitWeights:
    """What ``config.init`` names: ``kind`` scratch | synthcl | imagenet | moco, and for the three
    last the backbone state dict (torchvision layout, no ``fc``) and the architecture it holds."""

    kind: str
    path: str | None = None
    state: dict[str, torch.Tensor] | None = None
    architecture: dict | None = None

    def describe(self) -> dict:
        return {"kind": self.kind, "path": self.path}


def read_init(init: str, arch: str = "resnet18") -> InitWeights:
    """Read the weights named by ``init``; ``arch`` picks the file for a bare ``imagenet``."""
    if init == "scratch":
        return InitWeights("scratch")
    kind, sep, rest = init.partition(":")
    if sep and kind == "imagenet":
        return _imagenet(rest, init)
    if init == "imagenet":
        return _imagenet(arch, init)
    if sep and kind == "moco":
        return _moco(rest, init)
    return _synthcl(init)


def resolve_architecture(weights: InitWeights, arch: str, width: int, small_stem: bool | None,
                         explicit: Collection[str] = ()) -> dict:
    """The backbone to build: the given settings for scratch, the weights' own otherwise.

    ``explicit`` names the settings the user gave (command line, ``--set``, config file); one of
    them contradicting the weights is an error. Settings merely left at (or inherited as) a value
    are overridden by the weights, and the result records the architecture used.
    """
    asked = {"arch": arch, "width": width, "small_stem": small_stem}
    if weights.architecture is None:
        return asked
    held = weights.architecture
    clashes = [name for name in ARCH_FIELDS
               if name in explicit and asked[name] is not None and asked[name] != held[name]]
    if clashes:
        given = ", ".join(f"--{n.replace('_', '-')} {asked[n]}" for n in clashes)
        raise SynthclError(
            f"--init {weights.path}: the weights hold a {_describe(held)}, but {given} was asked; "
            f"drop {' and '.join('--' + n.replace('_', '-') for n in clashes)} (a checkpoint's "
            "architecture is read from its weights) or choose a checkpoint of that architecture")
    return dict(held)


def initialised_classifier(weights: InitWeights, architecture: dict, num_classes: int,
                           image_hw: tuple[int, int], seed: int) -> Classifier:
    """The classifier (on the CPU): a seeded random network, then the loaded backbone weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = build_backbone(architecture["arch"], architecture["width"],
                                  architecture["small_stem"], image_hw=image_hw)
        model = Classifier(backbone, num_classes)
    if weights.state is not None:
        load_backbone(model.backbone, weights.state, weights.path or weights.kind)
    return model


def load_backbone(backbone: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
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
        hint = ""
        if any(k.startswith("fc.") for k in unexpected):
            hint = ("; a torchvision ImageNet file is passed as --init imagenet:FILE, a MoCo "
                    "checkpoint as --init moco:FILE")
        raise SynthclError(f"--init {source}: the weights do not fit the backbone: "
                           f"{'; '.join(problems)}{hint}")
    backbone.load_state_dict(state, strict=False)


def _describe(architecture: dict) -> str:
    stem = "small (3x3) stem" if architecture["small_stem"] else "standard (7x7) stem"
    return f"{architecture['arch']} of width {architecture['width']} with the {stem}"


def _load(path: Path, init: str) -> object:
    if not path.is_file():
        raise SynthclError(f"--init {init}: {path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:
            raise SynthclError(f"--init {init}: {path} is not a readable PyTorch file "
                               "(truncated or of another kind)") from exc
        raise SynthclError(
            f"--init {init}: {path} holds a {found.group(1)} object, more than tensors and plain "
            "containers, and synthcl only reads weights with torch.load(weights_only=True); "
            "re-save the state dict alone with torch.save(model.state_dict(), FILE)") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise SynthclError(f"--init {init}: {path} is not a readable PyTorch file "
                           f"(truncated or of another kind): {exc}") from exc


def _tensor_dict(obj: object, path: Path, init: str) -> dict[str, torch.Tensor]:
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise SynthclError(f"--init {init}: {path} does not hold a state dict (a mapping of "
                           "parameter names to tensors)")
    return obj


def _with_architecture(kind: str, path: Path, state: dict[str, torch.Tensor],
                       init: str) -> InitWeights:
    try:
        architecture = infer_architecture(state)
    except SynthclError as exc:
        keys = ", ".join(list(state)[:5])
        raise SynthclError(f"--init {init}: {exc} (its first keys: {keys})") from exc
    return InitWeights(kind, str(path), state, architecture)


def _imagenet(name: str, init: str) -> InitWeights:
    if name in IMAGENET_FILES:
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        found = [folder / f for f in IMAGENET_FILES[name] if (folder / f).is_file()]
        if not found:
            wanted = IMAGENET_FILES[name][0]
            raise SynthclError(
                f"--init {init}: torchvision's ImageNet-1k {name} weights are not here and "
                f"nothing is downloaded at run time; download {TORCHVISION_URL}{wanted} into "
                f"{folder}/ (torchvision's cache) or anywhere and pass --init imagenet:PATH")
        path = found[0]
    else:
        path = Path(name).expanduser()
        if not path.is_file():
            raise SynthclError(
                f"--init {init}: {path} does not exist; download torchvision's ImageNet-1k "
                f"weights ({TORCHVISION_URL}{IMAGENET_FILES['resnet50'][0]} for ResNet-50, "
                f"{TORCHVISION_URL}{IMAGENET_FILES['resnet18'][0]} for ResNet-18) and pass "
                "their path; nothing is downloaded at run time")
    state = _tensor_dict(_load(path, init), path, init)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    return _with_architecture("imagenet", path, state, init)


def _moco(name: str, init: str) -> InitWeights:
    path = Path(name).expanduser()
    raw = _load(path, init)
    if not isinstance(raw, dict):
        raise SynthclError(f"--init {init}: {path} is not a MoCo checkpoint (a dict with "
                           "'state_dict')")
    source = raw.get("state_dict", raw)
    source = _tensor_dict(source, path, init)
    for prefix in MOCO_PREFIXES:
        state = {k[len(prefix):]: v for k, v in source.items() if k.startswith(prefix)}
        if state:
            break
    else:
        keys = ", ".join(list(source)[:5])
        raise SynthclError(
            f"--init {init}: {path} has no query-encoder weights ('module.encoder_q.*' keys of "
            f"the reference MoCo code); its first keys are {keys}")
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    return _with_architecture("moco", path, state, init)


def _synthcl(init: str) -> InitWeights:
    path = Path(init).expanduser()
    if path.is_dir():
        candidates = [path / "backbone.pt", path / "checkpoint.pt"]
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise SynthclError(
                f"--init {init}: the folder holds neither backbone.pt nor checkpoint.pt; pass the "
                "--out folder of 'synthcl pretrain', 'scratch', imagenet:FILE or moco:FILE")
        path = found[0]
    elif not path.exists():
        raise SynthclError(
            f"--init {init}: no such file or folder; use scratch, imagenet:FILE, moco:FILE or a "
            "synthcl pre-training folder / checkpoint.pt / backbone.pt")
    raw = _load(path, init)
    if isinstance(raw, dict) and "format" in raw:
        if raw["format"] != PRETRAIN_FORMAT:
            raise SynthclError(
                f"--init {init}: {path} is a '{raw['format']}' file, not a pre-training "
                f"checkpoint ('{PRETRAIN_FORMAT}'); a fine-tuned model is measured with "
                "'synthcl evaluate --checkpoint FILE'")
        if "backbone" not in raw:
            raise SynthclError(f"--init {init}: {path} lacks its 'backbone' weights (an "
                               "incomplete checkpoint); use the run's backbone.pt")
        return _with_architecture("synthcl", path, _tensor_dict(raw["backbone"], path, init),
                                  init)
    if isinstance(raw, dict) and "state_dict" in raw:
        raise SynthclError(f"--init {init}: {path} looks like a MoCo checkpoint; pass it as "
                           f"--init moco:{init}")
    return _with_architecture("synthcl", path, _tensor_dict(raw, path, init), init)
