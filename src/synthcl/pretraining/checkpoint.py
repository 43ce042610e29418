"""Pre-training checkpoints (save, load, resume checks) and initial weights from other runs.

``checkpoint.pt`` is a dict of tensors and plain values, loadable with
``torch.load(weights_only=True)``: ``format`` ("synthcl-pretrain-v1"), ``config``, ``step``,
``finished``, ``backbone`` (torchvision layout, no ``fc.*``), ``model`` (query encoder, key
encoder, queue, queue pointer), ``optimizer``, ``scheduler``, ``rng``, ``stats`` (loss, times,
images/s) and ``monitor`` (last probe and the random-initialisation baseline). Every random draw
of a run is a pure function of (seed, step), so ``step`` is what resuming needs; the global torch
RNG states are stored too, for completeness.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from synthcl.errors import SynthclError
from synthcl.models import infer_architecture
from synthcl.pretraining.config import OPERATIONAL
from synthcl.utils.atomic import torch_save

FORMAT = "synthcl-pretrain-v1"


def rng_state() -> dict[str, Any]:
    """The global CPU generator's state (CUDA's are not kept: no draw of a run uses them)."""
    return {"torch": torch.get_rng_state()}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    torch_save({"format": FORMAT, **state}, path)


def read_weights(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` on the CPU, with user errors for missing/unsafe files."""
    path = Path(path)
    if not path.is_file():
        raise SynthclError(f"{path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means an unusable file
        raise SynthclError(
            f"{path} cannot be loaded safely with torch.load(weights_only=True) ({exc}); it is "
            f"corrupt or holds arbitrary Python objects; re-save only its tensors "
            f"(e.g. torch.save(ckpt['state_dict'], 'weights.pt'))") from exc


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    state = read_weights(path)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SynthclError(f"{path} is not a synthcl pre-training checkpoint ({FORMAT}); "
                           f"remove it or choose another --out")
    return state


def check_same_run(config: Any, saved: dict[str, Any], out: Path) -> None:
    """Resuming with other settings than the run was started with is an error."""
    now = dataclasses.asdict(config)
    changed = [f"{k}={saved.get(k)!r} (now {now[k]!r})" for k in now
               if k not in OPERATIONAL and saved.get(k) != now[k]]
    if changed:
        raise SynthclError(
            f"--resume: the run in {out} was started with {', '.join(changed)}; resume it with "
            f"its own settings ({out / 'config.yaml'}) or choose another --out")


@dataclasses.dataclass
class InitWeights:
    """Weights to start pre-training from: a backbone (torchvision layout) and maybe a head."""

    backbone: dict[str, torch.Tensor]
    head: dict[str, torch.Tensor] | None
    source: str


def _strip(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def load_init(path: str | os.PathLike) -> InitWeights:
    """Initial weights from a synthcl run directory, ``checkpoint.pt`` or ``backbone.pt``, or a
    MoCo checkpoint in the reference layout (``state_dict`` with ``module.encoder_q.*`` keys, the
    fc of a v2 checkpoint being the MLP head ``fc.0``/``fc.2``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt" if (path / "checkpoint.pt").exists() else path / "backbone.pt"
    state = read_weights(path)
    if isinstance(state, dict) and state.get("format") == FORMAT:
        return InitWeights(state["backbone"], _strip(state["model"], "encoder_q.head."),
                           "synthcl checkpoint")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise SynthclError(f"{path} holds no state dict")
    for prefix in ("module.encoder_q.", "encoder_q."):
        if any(k.startswith(prefix) for k in state):
            encoder = _strip(state, prefix)
            head = {k.replace("fc.", "", 1): v for k, v in encoder.items()
                    if k.startswith(("fc.0.", "fc.2."))}
            backbone = {k: v for k, v in encoder.items() if not k.startswith("fc.")}
            return InitWeights(backbone, head or None, "MoCo checkpoint")
    if "conv1.weight" in state:
        return InitWeights({k: v for k, v in state.items() if not k.startswith("fc.")}, None,
                           "backbone state dict")
    raise SynthclError(f"{path}: neither a synthcl checkpoint, a backbone state dict, nor a "
                       f"MoCo checkpoint with module.encoder_q.* keys")


def apply_init(encoder: torch.nn.Module, init: InitWeights, path: str) -> bool:
    """Load ``init`` into an :class:`~synthcl.pretraining.moco.Encoder`; returns whether the head was
    loaded too (it is kept random when absent or of another shape)."""
    own = encoder.backbone.describe()
    theirs = infer_architecture(init.backbone)
    if {k: own[k] for k in theirs} != theirs:
        raise SynthclError(
            f"--init {path} holds a {theirs['arch']} of width {theirs['width']} "
            f"(small stem: {theirs['small_stem']}); set --arch {theirs['arch']} --set "
            f"width={theirs['width']} --set small_stem={str(theirs['small_stem']).lower()}")
    try:
        encoder.backbone.load_state_dict(init.backbone)
    except RuntimeError as exc:
        raise SynthclError(f"--init {path}: the weights do not fit the backbone ({exc})") from exc
    head_shapes = {k: v.shape for k, v in encoder.head.state_dict().items()}
    if init.head and {k: v.shape for k, v in init.head.items()} == head_shapes:
        encoder.head.load_state_dict(init.head)
        return True
    return False
