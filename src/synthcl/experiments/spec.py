"""Experiment specs (YAML) and their expansion into cells.

A spec names an experiment of the paper (``kind``: table2 | table3 | table4 | fig6 | fig7 | fig8,
which picks the report's layout) and, per scale (``mini`` | ``gpu-lite`` | ``paper`` or any name),
the grid to run::

    name: table2
    kind: table2
    description: what it reproduces
    scales:
      mini:
        description: what this scale is and its time budget
        datasets:
          pcam: {path: ../shared/data/pcam, image_size: "32", n: [40, 400], paper: PCAM}
        methods: [scratch, cl-real, ours:randomcrop]
        seeds: [0, 1, 2]
        sweeps: {m: [16, 64, 256]}          # fig6; {d: [2, 4, 8]} for fig7/fig8
        common: {arch: resnet18, width: 16} # fields of both PretrainConfig and FinetuneConfig
        pretrain: {steps: 300, m: 64}       # PretrainConfig fields, or epochs: E (see below)
        finetune: {epochs: 30}              # FinetuneConfig fields
        method_settings: {ours:gpnn: {pretrain: {m: 16}}}
        shared_pretrain_seed: 0
        imagenet_weights: null

A dataset entry may also hold ``format``, ``image_size``, ``allow_pickle`` (which only marks a
pickle: ``synthcl run --allow-pickle`` opts in, a spec cannot), its own ``common`` /
``pretrain`` / ``finetune`` blocks and ``by_n: {N: {pretrain: ...}}``. Settings are applied in the
order scale < dataset < N < method. Relative dataset paths are taken from the current directory
(run the built-in specs from the project root or pass ``--dataset NAME=PATH``); ``elpv`` is the
embedded dataset. ``pretrain: {epochs: E}`` is turned into steps = ceil(E x set size / batch),
where the set is N x M synthetic images (ours), the N real images (cl-real, cl-aug), the whole
training split (cl-all) or ``universal_size`` dead-leaves images (universal), as in the paper's
"400 epochs"; otherwise every mode gets the same number of steps (the same compute).

Methods are the rows of the paper's Table 2 (``scratch``, ``imagenet``, ``cl-real``, ``cl-all``,
``universal``, ``ours:<generator>``), ``ours:mix:a+b`` (Table 4) and ``cl-aug:<generator>``
(Table 3). A cell is one (dataset, N, method, seed, swept values). Seeds are paired: the cell's
seed seeds both the fine-tuning's N-image sample and the pre-training of ``ours``, ``cl-real`` and
``cl-aug`` (which samples the same N images as its sources). ``cl-all`` and ``universal`` do not
depend on the sampled images, so they use ``shared_pretrain_seed`` for every cell seed and the
dataset's smallest N for their monitor probe: one pre-training per dataset serves every N and seed.
Sweeps apply only to methods they affect (M to ``ours``; D to ``ours``/``cl-aug`` with a patch
generator); the other methods run once per (dataset, N, seed) as the reference lines.

The resolved :class:`PretrainConfig` of a cell, without its operational fields (out, resume,
device, workers, checkpoint and monitor intervals), hashes into the cell's *pretrain key*; fields a
mode does not use are reset to their defaults first, so e.g. Table 2's RandomCrop row and Fig. 6's
point at the same M share one backbone under ``RESULTS_DIR/pretrain/<key>/``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from synthcl.config import load_yaml
from synthcl.errors import SynthclError
from synthcl.finetune.config import FinetuneConfig
from synthcl.pretraining.config import PretrainConfig
from synthcl.pretraining.methods import (
    METHODS,
    MethodKind,
    generator_parts,
    method_kind,
    uses_d,
)

KINDS = ("table2", "table3", "table4", "fig6", "fig7", "fig8")
SWEEPS = ("m", "d")
IMAGENET_ENV = "SYNTHCL_IMAGENET_WEIGHTS"
# Fields a spec may not set: the runner derives them from the cell.
RUNNER_OWNED = {"pretrain": ("data", "n", "mode", "generator", "seed", "out", "resume", "device"),
                "finetune": ("data", "n", "init", "seeds", "out", "device")}
_OWNED = {"pretrain": set(RUNNER_OWNED["pretrain"]), "finetune": set(RUNNER_OWNED["finetune"]),
          "common": set(RUNNER_OWNED["pretrain"]) | set(RUNNER_OWNED["finetune"])}
DATA_KEYS = ("format", "image_size", "allow_pickle", "split_seed")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Method:
    """A row of the tables: a declared method kind (:mod:`synthcl.pretraining.methods`) and, for
    kinds that take one, the generator f_S."""

    name: str
    kind: str
    generator: str | None = None

    @property
    def declared(self) -> MethodKind:
        return method_kind(self.kind)

    @property
    def pretrains(self) -> bool:
        return self.declared.pretrains

    @property
    def slug(self) -> str:
        return self.name.replace(":", "-")

    def swept_by(self, sweep: str) -> bool:
        """Whether a sweep of ``m`` or ``d`` changes this method's pre-training."""
        if sweep not in self.declared.sweeps:
            return False
        return sweep != "d" or uses_d(self.generator or "")


def parse_method(name: str, where: str = "") -> Method:
    name = str(name).strip()
    kind, sep, generator = name.partition(":")
    declared = METHODS.get(kind)
    if declared and not declared.takes_generator and not sep:
        return Method(name, kind)
    if declared and declared.takes_generator and sep and generator:
        _check_generator(generator, f"{where}method {name}")
        return Method(name, kind, generator)
    plain = [k for k, m in METHODS.items() if not m.takes_generator]
    with_generator = [f"{k}:<generator>" for k, m in METHODS.items() if m.takes_generator]
    raise SynthclError(
        f"{where}method '{name}' is unknown; use one of {', '.join(plain + with_generator)} "
        f"(generator e.g. randomcrop, mix:randomcrop+gpnn)")


def _check_generator(generator: str, where: str) -> None:
    from synthcl.generators import GENERATORS

    parts = generator_parts(generator)
    bad = [p for p in parts if p not in GENERATORS or p.startswith("mix:")]
    if bad or (generator.startswith("mix:") and len(parts) < 2):
        raise SynthclError(f"{where}: generator '{generator}' is unknown; use one of "
                           f"{', '.join(GENERATORS)} or mix:a+b")


@dataclass(frozen=True)
class Settings:
    """Overrides of ``common`` (both configs), ``pretrain`` and ``finetune`` fields."""

    common: dict = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)
    finetune: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    path: str
    ns: tuple[int, ...]
    settings: Settings
    by_n: dict[int, Settings]
    paper: str | None            # the paper's column name (PCAM, FLIR, Tissue, WM, DR) if it is one


@dataclass(frozen=True)
class Scale:
    name: str
    description: str
    datasets: tuple[DatasetSpec, ...]
    methods: tuple[Method, ...]
    seeds: tuple[int, ...]
    sweeps: dict[str, tuple[int, ...]]
    settings: Settings
    method_settings: dict[str, Settings]
    shared_pretrain_seed: int = 0
    imagenet_weights: str | None = None


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str
    description: str
    scales: dict[str, Scale]
    source: str

    def scale(self, name: str) -> Scale:
        if name not in self.scales:
            raise SynthclError(f"spec '{self.name}' has no scale '{name}'; it has: "
                               f"{', '.join(self.scales)}")
        return self.scales[name]


# ---------------------------------------------------------------- loading


def builtin_names() -> list[str]:
    folder = resources.files("synthcl.experiments") / "specs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_spec(name_or_path: str) -> Spec:
    """A built-in spec by name (``table2`` ...) or a user-written YAML file."""
    if name_or_path in builtin_names():
        ref = resources.files("synthcl.experiments") / "specs" / f"{name_or_path}.yaml"
        with resources.as_file(ref) as path:
            return parse_spec(load_yaml(path), str(path))
    path = Path(name_or_path)
    if not path.exists():
        raise SynthclError(f"spec '{name_or_path}' is neither a built-in spec "
                           f"({', '.join(builtin_names())}) nor an existing YAML file")
    return parse_spec(load_yaml(path), str(path))


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SynthclError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _check_keys(data: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise SynthclError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                           f"allowed: {', '.join(allowed)}")


def _int_list(value: Any, where: str) -> tuple[int, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise SynthclError(f"{where} must be a list of integers, got {value!r}") from exc
    if not out:
        raise SynthclError(f"{where} must not be empty")
    if len(set(out)) != len(out):
        raise SynthclError(f"{where} lists a value twice ({value!r}); list each once")
    return out


def _settings(data: dict, where: str) -> Settings:
    common = dict(_mapping(data.get("common"), f"{where}.common"))
    pretrain = dict(_mapping(data.get("pretrain"), f"{where}.pretrain"))
    finetune = dict(_mapping(data.get("finetune"), f"{where}.finetune"))
    pre_fields = {f.name for f in dataclasses.fields(PretrainConfig)}
    ft_fields = {f.name for f in dataclasses.fields(FinetuneConfig)}
    for block, values, valid in (("common", common, pre_fields & ft_fields),
                                 ("pretrain", pretrain, pre_fields | {"epochs"}),
                                 ("finetune", finetune, ft_fields)):
        unknown = sorted(set(values) - valid)
        if unknown:
            raise SynthclError(f"{where}.{block}: unknown setting(s) {', '.join(unknown)}; "
                               f"valid: {', '.join(sorted(valid))}")
        data_keys = sorted(set(values) & set(DATA_KEYS)) if block != "common" else []
        if data_keys:
            raise SynthclError(f"{where}.{block}: {', '.join(data_keys)} describe how the data "
                               f"is read, for pre-training and fine-tuning alike; set them on "
                               f"the dataset or in common")
        owned = sorted(set(values) & _OWNED[block])
        if owned:
            raise SynthclError(f"{where}.{block}: {', '.join(owned)} are set by the runner from "
                               f"each cell (datasets, n, methods, seeds, --device); remove them")
    return Settings(common, pretrain, finetune)


def parse_spec(data: dict, source: str) -> Spec:
    where = f"spec {source}"
    _check_keys(data, ("name", "kind", "description", "scales"), where)
    name = str(data.get("name") or Path(source).stem)
    kind = str(data.get("kind", "table2"))
    if kind not in KINDS:
        raise SynthclError(f"{where}: kind '{kind}' is unknown; use one of {', '.join(KINDS)}")
    scales_data = _mapping(data.get("scales"), f"{where}: scales")
    if not scales_data:
        raise SynthclError(f"{where}: no scales; add scales: {{mini: {{...}}}}")
    scales = {str(k): _parse_scale(str(k), _mapping(v, f"{where}: scale {k}"), f"{where}: {k}")
              for k, v in scales_data.items()}
    return Spec(name, kind, str(data.get("description", "")).strip(), scales, source)


def _parse_scale(name: str, data: dict, where: str) -> Scale:
    _check_keys(data, ("description", "datasets", "methods", "seeds", "sweeps", "common",
                       "pretrain", "finetune", "method_settings", "shared_pretrain_seed",
                       "imagenet_weights"), where)
    datasets_data = _mapping(data.get("datasets"), f"{where}.datasets")
    if not datasets_data:
        raise SynthclError(f"{where}: no datasets")
    datasets = tuple(_parse_dataset(str(k), _mapping(v, f"{where}.datasets.{k}"),
                                    f"{where}.datasets.{k}") for k, v in datasets_data.items())
    methods_data = data.get("methods") or []
    if not methods_data:
        raise SynthclError(f"{where}: no methods")
    methods = tuple(parse_method(m, f"{where}: ") for m in methods_data)
    if len(set(methods)) != len(methods):
        raise SynthclError(f"{where}: methods list one twice ({methods_data}); list each once")
    sweeps_data = _mapping(data.get("sweeps"), f"{where}.sweeps")
    _check_keys(sweeps_data, SWEEPS, f"{where}.sweeps")
    if len(sweeps_data) > 1:
        raise SynthclError(f"{where}.sweeps: one swept setting per scale (got "
                           f"{', '.join(sweeps_data)}); make one scale per sweep")
    sweeps = {k: _int_list(v, f"{where}.sweeps.{k}") for k, v in sweeps_data.items()}
    method_settings = {}
    for key, value in _mapping(data.get("method_settings"), f"{where}.method_settings").items():
        parse_method(key, f"{where}.method_settings: ")
        block = _mapping(value, f"{where}.method_settings.{key}")
        _check_keys(block, ("common", "pretrain", "finetune"), f"{where}.method_settings.{key}")
        method_settings[str(key)] = _settings(block, f"{where}.method_settings.{key}")
    return Scale(name=name, description=str(data.get("description", "")).strip(),
                 datasets=datasets, methods=methods,
                 seeds=_int_list(data.get("seeds", [0]), f"{where}.seeds"), sweeps=sweeps,
                 settings=_settings(data, where), method_settings=method_settings,
                 shared_pretrain_seed=_int_list(data.get("shared_pretrain_seed", 0),
                                                f"{where}.shared_pretrain_seed")[0],
                 imagenet_weights=data.get("imagenet_weights"))


def _parse_dataset(name: str, data: dict, where: str) -> DatasetSpec:
    if not _NAME.match(name):
        raise SynthclError(f"{where}: dataset names may hold letters, digits, '_' and '-' only")
    _check_keys(data, ("path", "n", "paper", "common", "pretrain", "finetune", "by_n")
                + DATA_KEYS, where)
    if "path" not in data or "n" not in data:
        raise SynthclError(f"{where}: needs 'path' and 'n' (a list of N values)")
    settings = _settings(data, where)
    settings.common.update({k: data[k] for k in DATA_KEYS if k in data})
    by_n = {}
    for n, block in _mapping(data.get("by_n"), f"{where}.by_n").items():
        block = _mapping(block, f"{where}.by_n.{n}")
        _check_keys(block, ("common", "pretrain", "finetune"), f"{where}.by_n.{n}")
        by_n[_int_list(n, f"{where}.by_n key")[0]] = _settings(block, f"{where}.by_n.{n}")
    return DatasetSpec(name, str(data["path"]), _int_list(data["n"], f"{where}.n"), settings,
                       by_n, data.get("paper"))
