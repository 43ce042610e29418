"""Image generators f_S: a batch of real images in, synthetic images of the same shape out.

``build_generator(name, d=4, **options)`` makes one by name:

* ``patchshuffle`` and ``randomcrop`` (the paper's generators, D = ``d`` divisions per side);
* ``gpnn`` (Granot et al. 2022; ``d`` is ignored; options: preset (synthcl|official), patch_size,
  scale, noise_std, iters, coarsest_iters, alpha, max_levels, min_coarse, resizer, fold);
* ``mix:a+b[+c]``, e.g. ``mix:randomcrop+gpnn``: each image made by one of the named generators,
  chosen at random (option ``weights``, default equal); other options go to the generators that
  take them.

Options are converted to the type the generator's ``__init__`` annotation declares (int, float,
bool, a list of floats) by ``synthcl.config.coerce``, the settings' own conversion;
``parse_options`` reads ``KEY=VALUE`` strings (YAML values) for the CLI.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable
from typing import Any

from synthcl.config import coerce
from synthcl.errors import SynthclError
from synthcl.generators.base import SyntheticGenerator
from synthcl.generators.gpnn import GPNN
from synthcl.generators.mix import Mix
from synthcl.generators.patchshuffle import PatchShuffle
from synthcl.generators.randomcrop import RandomCrop

__all__ = ["GENERATORS", "GPNN", "Mix", "PatchShuffle", "RandomCrop", "SyntheticGenerator",
           "build_generator", "parse_options"]

_CLASSES: dict[str, type[SyntheticGenerator]] = {
    "patchshuffle": PatchShuffle, "randomcrop": RandomCrop, "gpnn": GPNN}
GENERATORS = (*_CLASSES, "mix:randomcrop+gpnn")


def _options_of(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` strings as a dict, each value read as YAML (``0.5`` -> 0.5)."""
    import yaml

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SynthclError(f"--option {item}: expected KEY=VALUE, e.g. noise_std=0.5")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            options[key.strip()] = value   # not YAML: checked as a string against its type
    return options


def _typed(cls: type, options: dict[str, Any], generator: str) -> dict[str, Any]:
    """``options`` that ``cls.__init__`` takes, converted to its annotated types."""
    hints = typing.get_type_hints(cls.__init__)
    accepted = _options_of(cls)
    try:
        return {key: coerce(key, value, hints.get(key, Any))
                for key, value in options.items() if key in accepted}
    except SynthclError as exc:
        raise SynthclError(f"generator {generator!r}: {exc}") from None


def _build_one(name: str, d: int, options: dict[str, Any]) -> SyntheticGenerator:
    cls = _CLASSES[name]
    accepted = _options_of(cls)
    kwargs = _typed(cls, options, name)
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
    weights = _typed(Mix, options, name).get("weights")
    return Mix([_build_one(p, d, options) for p in parts], weights)
