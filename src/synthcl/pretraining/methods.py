"""Every pre-training method declared once: what it discriminates, how a table labels it, which
settings it ignores, what sweeps change it, and how its epochs count.

The trainer builds a run's instances through :func:`instances_of`; specs parse method names and
expand cells through :func:`method_kind`; reports label rows with :func:`row_label`. A new method
is one :func:`register` call (with a function building its instances, see
:mod:`synthcl.pretraining.sources`). A spec names a method as ``kind`` or ``kind:generator``
(``ours:randomcrop``, ``cl-aug:mix:randomcrop+gpnn``). Importing this module does not import torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from synthcl.errors import SynthclError

GENERATOR_ABBREVIATIONS = {"gpnn": "GP", "patchshuffle": "PS", "randomcrop": "RC"}
PATCH_GENERATORS = ("patchshuffle", "randomcrop")          # the generators that take D


@dataclass(frozen=True)
class MethodKind:
    name: str
    label: str                           # table row; "{f_S}" stands for the generator's short name
    instances: str | None = None         # "module:function" -> Sources; None: no pre-training
    takes_generator: bool = False        # named kind:generator
    unused: tuple[str, ...] = ()         # PretrainConfig fields it ignores (reset in cell keys)
    sweeps: tuple[str, ...] = ()         # "m" / "d" (d only with a patch generator)
    per_dataset: bool = False            # needs no sampled image: one pre-training per dataset
    epoch_size: Callable[[int, int, int], int | None] | None = None
    #                                      (n, m, universal_size) -> instances; None: the split

    @property
    def pretrains(self) -> bool:
        return self.instances is not None


METHODS: dict[str, MethodKind] = {}


def register(kind: MethodKind) -> MethodKind:
    """Declare a method (replacing one of the same name)."""
    METHODS[kind.name] = kind
    return kind


def method_kind(name: str) -> MethodKind:
    kind = METHODS.get(name)
    if kind is None:
        raise SynthclError(f"method kind '{name}' is unknown; known: {', '.join(METHODS)}")
    return kind


def modes() -> tuple[str, ...]:
    """The names of the methods that pre-train (``synthcl pretrain --mode``)."""
    return tuple(name for name, kind in METHODS.items() if kind.pretrains)


def instances_of(mode: str) -> Callable:
    """The function building the instances of ``mode`` (imported on first use)."""
    kind = method_kind(mode)
    if not kind.pretrains:
        raise SynthclError(f"--mode {mode}: it does not pre-train; choose one of "
                           f"{', '.join(modes())}")
    module, _, function = kind.instances.partition(":")
    return getattr(importlib.import_module(module), function)


def generator_parts(generator: str) -> list[str]:
    """The generators of ``mix:a+b`` (or ``[generator]``)."""
    return generator[4:].split("+") if generator.startswith("mix:") else [generator]


def uses_d(generator: str) -> bool:
    """Whether a generator (or any part of a mix) is a patch generator that takes D."""
    return any(p in PATCH_GENERATORS for p in generator_parts(generator))


def row_label(method: str) -> str:
    """The table row of a method name, e.g. ``ours:randomcrop`` -> ``Ours (RC)``."""
    name, _, generator = method.partition(":")
    kind = METHODS.get(name)
    if kind is None:
        return method
    short = "+".join(GENERATOR_ABBREVIATIONS.get(p, p) for p in generator_parts(generator))
    return kind.label.replace("{f_S}", short)


_SOURCES = "synthcl.pretraining.sources"
_NOT_SYNTHETIC = ("generator", "d", "m", "universal_size")

register(MethodKind("scratch", "Scratch"))
register(MethodKind("imagenet", "SL (IN1k)"))
register(MethodKind("cl-real", "CL", f"{_SOURCES}:real_images", unused=_NOT_SYNTHETIC,
                    epoch_size=lambda n, m, u: n))
register(MethodKind("cl-all", "CL (w/ all)", f"{_SOURCES}:training_split", unused=_NOT_SYNTHETIC,
                    per_dataset=True))
register(MethodKind("universal", "CL (dead leaves)", f"{_SOURCES}:dead_leaves_images",
                    unused=("generator", "d", "m"), per_dataset=True,
                    epoch_size=lambda n, m, u: u))
register(MethodKind("ours", "Ours ({f_S})", f"{_SOURCES}:synthetic_images", takes_generator=True,
                    unused=("universal_size",), sweeps=("m", "d"),
                    epoch_size=lambda n, m, u: n * m))
register(MethodKind("cl-aug", "CL (f_CL+f_S {f_S})", f"{_SOURCES}:augmented_real_images",
                    takes_generator=True, unused=("m", "universal_size"), sweeps=("d",),
                    epoch_size=lambda n, m, u: n))
