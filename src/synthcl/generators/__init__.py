"""Image generators f_S: a batch of real images in, synthetic images of the same shape out.

``build_generator(name, d=4, **options)`` makes one by name:

* ``patchshuffle`` and ``randomcrop`` (the paper's generators, D = ``d`` divisions per side);
* ``gpnn`` (Granot et al. 2022; ``d`` is ignored; options: patch_size, scale, noise_std, iters,
  coarsest_iters, alpha, max_levels, min_coarse);
* ``mix:a+b[+c]``, e.g. ``mix:randomcrop+gpnn``: each image made by one of the named generators,
  chosen at random (option ``weights``, default equal); other options go to the generators that
  take them.

Options are converted to the type the generator's ``__init__`` annotation declares (int, float,
bool, a list of floats); ``parse_options`` reads ``KEY=VALUE`` strings (YAML values) for the CLI.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

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


_SEQUENCES = (list, tuple, Sequence)
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _plain(hint: Any) -> Any:
    """``hint`` without ``| None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner[0] if len(inner) == 1 else Any
    return hint


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in _SEQUENCES:
        return "a list of numbers, e.g. [1,3]"
    return {int: "an integer", float: "a number", bool: "true or false"}.get(hint, str(hint))


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as type ``hint`` (int, float, bool or a sequence of them, else unchanged);
    ValueError or TypeError when it is not one."""
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(value)
        if isinstance(value, int):
            return value if hint is int else float(value)
        number = float(value)
        if not math.isfinite(number) or (hint is int and not number.is_integer()):
            raise ValueError(value)
        return int(number) if hint is int else number
    if hint is bool:
        text = str(value).strip().lower()
        if isinstance(value, bool) or text in _TRUE + _FALSE:
            return value if isinstance(value, bool) else text in _TRUE
        raise ValueError(value)
    if typing.get_origin(hint) in _SEQUENCES:
        if isinstance(value, str):
            value = [v for v in value.strip().strip("[]()").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise TypeError(value)
        return tuple(_convert(v, typing.get_args(hint)[0]) for v in value)
    return value


def _typed(cls: type, options: dict[str, Any], generator: str) -> dict[str, Any]:
    """``options`` that ``cls.__init__`` takes, converted to its annotated types."""
    hints = typing.get_type_hints(cls.__init__)
    result = {}
    for key, value in options.items():
        if key not in _options_of(cls):
            continue
        hint = _plain(hints.get(key, Any))
        try:
            result[key] = _convert(value, hint)
        except (TypeError, ValueError):
            raise SynthclError(f"generator {generator!r}: option {key}={value!r} must be "
                               f"{_describe(hint)}") from None
    return result


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
