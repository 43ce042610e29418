"""What resuming a pre-training needs beyond the checkpoint file: the RNG state and the check that
a resumed run keeps its settings.

``checkpoint.pt`` is a dict of tensors and plain values, written and read by
:mod:`synthcl.weights` (``save_checkpoint``/``load_checkpoint``, with
``torch.load(weights_only=True)``): ``format`` ("synthcl-pretrain-v1"), ``config``, ``step``,
``finished``, ``backbone`` (torchvision layout, no ``fc.*``), ``model`` (query encoder, key
encoder, queue, queue pointer), ``optimizer``, ``scheduler``, ``rng``, ``stats`` (loss, times,
images/s) and ``monitor`` (last probe and the random-initialisation baseline). Every random draw
of a run is a pure function of (seed, step), so ``step`` is what resuming needs; the global torch
RNG states are stored too, for completeness.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from synthcl.config import with_defaults
from synthcl.errors import SynthclError
from synthcl.pretraining.config import OPERATIONAL


def rng_state() -> dict[str, Any]:
    """The global CPU generator's state (CUDA's are not kept: no draw of a run uses them)."""
    return {"torch": torch.get_rng_state()}


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])


def check_same_run(config: Any, saved: dict[str, Any], out: Path) -> None:
    """Resuming with other settings than the run was started with is an error. A setting the
    saved run lacks (added to the code since) counts as its default."""
    now, was = dataclasses.asdict(config), with_defaults(type(config), saved)
    changed = [f"{k}={was[k]!r} (now {now[k]!r})" for k in now
               if k not in OPERATIONAL and was[k] != now[k]]
    if changed:
        raise SynthclError(
            f"--resume: the run in {out} was started with {', '.join(changed)}; resume it with "
            f"its own settings ({out / 'config.yaml'}) or choose another --out")
