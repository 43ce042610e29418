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
(run the built-in specs from the project root or pass ``--data NAME=PATH``); ``elpv`` is the
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
import math
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from synthcl.config import PICKLE_OPT_IN, config_hash, from_dict, load_yaml, to_dict
from synthcl.errors import SynthclError
from synthcl.finetune.config import FinetuneConfig
from synthcl.pretraining.config import OPERATIONAL, PretrainConfig

KINDS = ("table2", "table3", "table4", "fig6", "fig7", "fig8")
PLAIN_METHODS = ("scratch", "imagenet", "cl-real", "cl-all", "universal")
GENERATOR_METHODS = ("ours", "cl-aug")
PATCH_GENERATORS = ("patchshuffle", "randomcrop")
SWEEPS = ("m", "d")
IMAGENET_ENV = "SYNTHCL_IMAGENET_WEIGHTS"
# Fields a spec may not set: the runner derives them from the cell.
RUNNER_OWNED = {"pretrain": ("data", "n", "mode", "generator", "seed", "out", "resume", "device"),
                "finetune": ("data", "n", "init", "seeds", "out", "device")}
_OWNED = {"pretrain": set(RUNNER_OWNED["pretrain"]), "finetune": set(RUNNER_OWNED["finetune"]),
          "common": set(RUNNER_OWNED["pretrain"]) | set(RUNNER_OWNED["finetune"])}
DATA_KEYS = ("format", "image_size", "allow_pickle")
# Per mode, PretrainConfig fields reset to their defaults because the mode ignores them.
UNUSED_BY_MODE = {"cl-real": ("generator", "d", "m", "universal_size"),
                  "cl-all": ("generator", "d", "m", "universal_size"),
                  "universal": ("generator", "d", "m"),
                  "cl-aug": ("m", "universal_size"),
                  "ours": ("universal_size",)}
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Method:
    """A row of the tables: ``kind`` is scratch | imagenet | cl-real | cl-all | universal | ours |
    cl-aug; ``generator`` the f_S of ours / cl-aug."""

    name: str
    kind: str
    generator: str | None = None

    @property
    def pretrains(self) -> bool:
        return self.kind not in ("scratch", "imagenet")

    @property
    def slug(self) -> str:
        return self.name.replace(":", "-")

    def swept_by(self, sweep: str) -> bool:
        """Whether a sweep of ``m`` or ``d`` changes this method's pre-training."""
        if sweep == "m":
            return self.kind == "ours"
        return self.kind in GENERATOR_METHODS and uses_d(self.generator or "")


def uses_d(generator: str) -> bool:
    """Whether a generator (or any part of a mix) is a patch generator that takes D."""
    parts = generator[4:].split("+") if generator.startswith("mix:") else [generator]
    return any(p in PATCH_GENERATORS for p in parts)


def parse_method(name: str, where: str = "") -> Method:
    name = str(name).strip()
    if name in PLAIN_METHODS:
        return Method(name, name)
    kind, sep, generator = name.partition(":")
    if kind in GENERATOR_METHODS and sep and generator:
        _check_generator(generator, f"{where}method {name}")
        return Method(name, kind, generator)
    raise SynthclError(
        f"{where}method '{name}' is unknown; use one of {', '.join(PLAIN_METHODS)}, "
        f"ours:<generator>, cl-aug:<generator> (generator e.g. randomcrop, mix:randomcrop+gpnn)")


def _check_generator(generator: str, where: str) -> None:
    from synthcl.generators import GENERATORS

    parts = generator[4:].split("+") if generator.startswith("mix:") else [generator]
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


@dataclass
class Cell:
    """One run: pre-train (if the method does; shared by key), fine-tune, test, for one seed."""

    id: str
    spec: str
    scale: str
    kind: str
    dataset: str
    dataset_path: str
    paper_dataset: str | None
    n: int
    method: str
    seed: int
    sweep: dict[str, int]
    finetune: FinetuneConfig
    pretrain: PretrainConfig | None
    pretrain_key: str | None
    config_hash: str
    layout: dict
    not_run: str | None = None
    steps_pending: bool = False    # steps are epochs of a training split not read yet

    def configs(self) -> dict:
        return {"pretrain": to_dict(self.pretrain) if self.pretrain else None,
                "finetune": to_dict(self.finetune)}


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


# ---------------------------------------------------------------- expansion


def pretrain_key(config: PretrainConfig) -> str:
    """The hash identifying what a pre-training computes (operational fields left out)."""
    values = {k: v for k, v in to_dict(config).items() if k not in OPERATIONAL}
    return config_hash(values, length=16)


def pickle_problem(ds: DatasetSpec, path: str, allow_pickle: bool) -> str | None:
    """Why a dataset the spec marks ``allow_pickle: true`` is not read without the flag."""
    if ds.settings.common.get(PICKLE_OPT_IN) and not allow_pickle:
        return (f"dataset {ds.name} is a pickle and unpickling can run code; a spec cannot opt "
                f"in: if you trust {path}, add --allow-pickle to synthcl run")
    return None


def dataset_available(path: str) -> str | None:
    """None when the dataset can be read, else the reason it cannot."""
    if path == "elpv" or Path(path).exists():
        return None
    return f"dataset path {path} does not exist"


def expand_cells(spec: Spec, scale_name: str, results_dir: str | os.PathLike,
                 data_overrides: dict[str, str] | None = None,
                 imagenet_weights: str | None = None, device: str = "auto",
                 allow_pickle: bool = False, read_data: bool = True) -> list[Cell]:
    """Every cell of one scale of a spec, with resolved configs and not-run reasons.

    ``allow_pickle`` is the typed ``--allow-pickle``: a spec's own ``allow_pickle: true`` only
    says that a dataset needs it. ``read_data=False`` (``--dry-run``, ``--list-cells``) reads no
    dataset: steps given as epochs of a training split stay unresolved (``Cell.steps_pending``).
    """
    scale = spec.scale(scale_name)
    data_overrides = dict(data_overrides or {})
    unknown = sorted(set(data_overrides) - {d.name for d in scale.datasets})
    if unknown:
        raise SynthclError(f"--data {unknown[0]}=...: spec '{spec.name}' ({scale_name}) has no "
                           f"dataset '{unknown[0]}'; its datasets: "
                           f"{', '.join(d.name for d in scale.datasets)}")
    layout = {"kind": spec.kind, "description": spec.description,
              "scale_description": scale.description,
              "datasets": [{"name": d.name, "paper": d.paper, "ns": list(d.ns)}
                           for d in scale.datasets],
              "methods": [m.name for m in scale.methods], "seeds": list(scale.seeds),
              "sweeps": {k: list(v) for k, v in scale.sweeps.items()}}
    weights = imagenet_weights or scale.imagenet_weights or os.environ.get(IMAGENET_ENV)
    available = {}
    for ds in scale.datasets:
        path = data_overrides.get(ds.name, ds.path)
        missing = dataset_available(path)
        if missing and ds.name in data_overrides:
            raise SynthclError(f"--data {ds.name}={path}: {missing}")
        available[ds.name] = (path, missing and f"{missing} (give --data {ds.name}=PATH)"
                              or pickle_problem(ds, path, allow_pickle))
    cells = []
    for seed in scale.seeds:               # seed-major: each finished seed is a complete table
        for ds in scale.datasets:
            path, missing = available[ds.name]
            for n in ds.ns:
                for method in scale.methods:
                    swept = [k for k in SWEEPS if k in scale.sweeps and method.swept_by(k)]
                    for values in _product([scale.sweeps[k] for k in swept]):
                        sweep = dict(zip(swept, values, strict=True))
                        cell = _make_cell(spec, scale, ds, path, n, method, seed, sweep,
                                          results_dir, weights, device, layout, missing,
                                          allow_pickle, read_data)
                        cells.append(cell)
    return cells


def _product(lists: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = [()]
    for values in lists:
        out = [o + (v,) for o in out for v in values]
    return out


def _merged(scale: Scale, ds: DatasetSpec, n: int, method: Method) -> tuple[dict, dict]:
    layers = [scale.settings, ds.settings, ds.by_n.get(n, Settings()),
              scale.method_settings.get(method.name, Settings())]
    pre: dict = {}
    ft: dict = {}
    for layer in layers:
        pre.update(layer.common)
        pre.update(layer.pretrain)
        ft.update(layer.common)
        ft.update(layer.finetune)
    return pre, ft


def cell_id(spec: str, scale: str, dataset: str, n: int, method: Method, seed: int,
            sweep: dict[str, int]) -> str:
    swept = "".join(f".{k.upper()}{v}" for k, v in sweep.items())
    return f"{spec}.{scale}.{dataset}.N{n}.{method.slug}{swept}.s{seed}"


def _make_cell(spec: Spec, scale: Scale, ds: DatasetSpec, path: str, n: int, method: Method,
               seed: int, sweep: dict[str, int], results_dir: str | os.PathLike,
               weights: str | None, device: str, layout: dict, missing: str | None,
               allow_pickle: bool = False, read_data: bool = True) -> Cell:
    where = f"spec {spec.name} ({scale.name}), dataset {ds.name}, method {method.name}"
    pre_values, ft_values = _merged(scale, ds, n, method)
    pre_values[PICKLE_OPT_IN] = ft_values[PICKLE_OPT_IN] = allow_pickle
    ft_values.update(data=path, n=n, seeds=[seed], device=device)
    pre_config, key, not_run, pending = None, None, None, False
    if method.pretrains:
        count_train = read_data and not missing
        pre_config = _pretrain_config(pre_values, scale, ds, path, n, method, seed, sweep, where,
                                      count_train=count_train)
        pending = method.kind == "cl-all" and "epochs" in pre_values and not count_train
        key = pretrain_key(pre_config)
        pre_config = dataclasses.replace(
            pre_config, out=str(Path(results_dir) / "pretrain" / key), resume=True,
            device=device)
        ft_values.update(init=pre_config.out, arch=pre_config.arch, width=pre_config.width,
                         small_stem=pre_config.small_stem)
    elif method.kind == "imagenet":
        not_run = imagenet_problem(weights)
        ft_values.update(init=f"imagenet:{weights}")
        if not not_run:
            ft_values.update(imagenet_architecture(str(weights)))
    else:
        ft_values.update(init="scratch")
    finetune = from_dict(FinetuneConfig, ft_values)
    ident = cell_id(spec.name, scale.name, ds.name, n, method, seed, sweep)
    finetune = dataclasses.replace(finetune, out=str(Path(results_dir) / "finetune" / ident))
    hashed_ft = {k: v for k, v in to_dict(finetune).items() if k not in ("out", "device")}
    if key:
        hashed_ft["init"] = f"pretrain:{key}"
    digest = config_hash({"method": method.name, "seed": seed, "pretrain_key": key,
                          "finetune": hashed_ft}, length=16)
    return Cell(id=ident, spec=spec.name, scale=scale.name, kind=spec.kind, dataset=ds.name,
                dataset_path=path, paper_dataset=ds.paper, n=n, method=method.name, seed=seed,
                sweep=sweep, finetune=finetune, pretrain=pre_config, pretrain_key=key,
                config_hash=digest, layout=layout, not_run=missing or not_run,
                steps_pending=pending)


def _pretrain_config(values: dict, scale: Scale, ds: DatasetSpec, path: str, n: int,
                     method: Method, seed: int, sweep: dict[str, int], where: str,
                     count_train: bool) -> PretrainConfig:
    values = dict(values)
    epochs = values.pop("epochs", None)
    mode = method.kind
    shared = mode in ("cl-all", "universal")
    values.update(data=path, mode=mode, n=min(ds.ns) if shared else n,
                  seed=scale.shared_pretrain_seed if shared else seed)
    if method.generator:
        values["generator"] = method.generator
    values.update(sweep)
    config = from_dict(PretrainConfig, values)
    defaults = PretrainConfig()
    reset = list(UNUSED_BY_MODE.get(mode, ()))
    if method.generator and not uses_d(method.generator):
        reset.append("d")
    config = dataclasses.replace(config, **{k: getattr(defaults, k) for k in reset})
    if epochs is not None:
        size = {"ours": n * config.m, "cl-real": n, "cl-aug": n,
                "universal": config.universal_size}.get(mode)
        if size is None and not count_train:
            return config                  # absent, or not read (--dry-run)
        if size is None:
            size = _train_size(path, config.format, config.image_size, config.allow_pickle)
        steps = math.ceil(float(epochs) * size / config.batch_size)
        if steps < 1:
            raise SynthclError(f"{where}: pretrain epochs={epochs} gives no step")
        config = dataclasses.replace(config, steps=steps)
    return config


@lru_cache(maxsize=16)
def _train_size(path: str, format: str | None, image_size: str | None,
                allow_pickle: bool) -> int:
    from synthcl.data import load_dataset

    return len(load_dataset(path, format, image_size, allow_pickle).splits["train"])


def imagenet_problem(weights: str | None) -> str | None:
    """Why the ``imagenet`` row cannot run (None when its weights file is there)."""
    if not weights:
        return ("no ImageNet weights file: pass --imagenet-weights FILE (a torchvision "
                f"resnet18/50 state dict) or set {IMAGENET_ENV}")
    if not Path(weights).is_file():
        return f"ImageNet weights file {weights} does not exist"
    return None


def imagenet_architecture(weights: str) -> dict:
    """arch / width / small_stem of an ImageNet weights file, read by :mod:`synthcl.weights`
    (imported here, not above: parsing a spec needs no torch)."""
    from synthcl.weights import imagenet_architecture as read

    return read(weights)
