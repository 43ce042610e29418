"""Image generators f_S: a batch of real images in, synthetic images of the same shape out.

``build_generator(name, d=4, **options)`` makes one by name:

* ``patchshuffle`` and ``randomcrop`` (the paper's generators, D = ``d`` divisions per side);
* ``gpnn`` (Granot et al. 2022; ``d`` is ignored; options: patch_size, scale, noise_std, iters,
  coarsest_iters, alpha, max_levels, min_coarse);
* ``mix:a+b[+c]``, e.g. ``mix:randomcrop+gpnn``: each image made by one of the named generators,
  chosen at random (option ``weights``, default equal); other options go to the generators that
  take them.
"""

from __future__ import annotations

import inspect
from typing import Any

from synthcl.errors import SynthclError
from synthcl.generators.base import SyntheticGenerator
from synthcl.generators.gpnn import GPNN
from synthcl.generators.mix import Mix
from synthcl.generators.patchshuffle import PatchShuffle
from synthcl.generators.randomcrop import RandomCrop

__all__ = ["GENERATORS", "GPNN", "Mix", "PatchShuffle", "RandomCrop", "SyntheticGenerator",
           "build_generator"]

_CLASSES: dict[str, type[SyntheticGenerator]] = {
    "patchshuffle": PatchShuffle, "randomcrop": RandomCrop, "gpnn": GPNN}
GENERATORS = (*_CLASSES, "mix:randomcrop+gpnn")


def _options_of(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def _build_one(name: str, d: int, options: dict[str, Any]) -> SyntheticGenerator:
    cls = _CLASSES[name]
    accepted = _options_of(cls)
    kwargs = {k: v for k, v in options.items() if k in accepted}
    if "d" in accepted:
        kwargs["d"] = d
    return cls(**kwargs)


def build_generator(name: str, d: int = 4, **options: Any) -> SyntheticGenerator:
    """The generator called ``name`` (see the module docstring); options set to None are unset."""
    options = {k: v for k, v in options.items() if v is not None}
    key = name.strip().lower()
    parts = key[4:].split("+") if key.startswith("mix:") else [key]
    unknown = [p for p in parts if p not in _CLASSES]
    if unknown or not parts:
        raise SynthclError(
            f"generator {name!r}: unknown name {', '.join(map(repr, unknown)) or '(empty)'}; "
            f"valid names: {', '.join(_CLASSES)}, or mix:A+B[+C] of them "
            f"(e.g. {GENERATORS[-1]})")
    accepted = set().union(*(_options_of(_CLASSES[p]) for p in parts)) - {"d"}
    if len(parts) > 1:
        accepted.add("weights")
    stray = sorted(set(options) - accepted)
    if stray:
        raise SynthclError(f"generator {name!r}: unknown option(s) {', '.join(stray)}; valid "
                           f"options: {', '.join(sorted(accepted)) or 'none'}")
    if len(parts) == 1:
        return _build_one(parts[0], d, options)
    return Mix([_build_one(p, d, options) for p in parts], options.get("weights"))
