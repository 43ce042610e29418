"""Expansion of one scale of a spec into cells: resolved pre-training and fine-tuning configs,
the pre-training key that lets cells share a backbone, and the reason a cell cannot run.

See :mod:`synthcl.experiments.spec` for the grammar and how seeds and pre-trainings pair up.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from synthcl.config import PICKLE_OPT_IN, config_hash, from_dict, to_dict
from synthcl.errors import SynthclError
from synthcl.experiments.spec import (
    IMAGENET_ENV,
    SWEEPS,
    DatasetSpec,
    Method,
    Scale,
    Settings,
    Spec,
)
from synthcl.finetune.config import FinetuneConfig
from synthcl.pretraining.config import OPERATIONAL, PretrainConfig
from synthcl.pretraining.methods import uses_d


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
                 allow_pickle: bool = False, read_data: bool = True,
                 seeds: tuple[int, ...] | None = None,
                 only: tuple[str, ...] = ()) -> list[Cell]:
    """Every cell of one scale of a spec, with resolved configs and not-run reasons.

    ``allow_pickle`` is the typed ``--allow-pickle``: a spec's own ``allow_pickle: true`` only
    says that a dataset needs it. ``read_data=False`` (``--dry-run``, ``--list-cells``) reads no
    dataset: steps given as epochs of a training split stay unresolved (``Cell.steps_pending``).
    ``seeds`` (``run --seeds``) replaces the scale's seeds, e.g. to add seeds to a finished run;
    ``only`` (``run --only``) keeps the cells of these datasets, e.g. to add seeds where the
    intervals are widest. Neither changes a cell's id or settings.
    """
    scale = spec.scale(scale_name)
    seeds = tuple(seeds or scale.seeds)
    data_overrides = dict(data_overrides or {})
    names = [d.name for d in scale.datasets]
    for option, given in (("--dataset", sorted(data_overrides)), ("--only", only)):
        unknown = [name for name in given if name not in names]
        if unknown:
            value = f"{unknown[0]}=..." if option == "--dataset" else unknown[0]
            raise SynthclError(f"{option} {value}: spec '{spec.name}' ({scale_name}) has no "
                               f"dataset '{unknown[0]}'; its datasets: {', '.join(names)}")
    layout = {"kind": spec.kind, "description": spec.description,
              "scale_description": scale.description,
              "datasets": [{"name": d.name, "paper": d.paper, "ns": list(d.ns)}
                           for d in scale.datasets],
              "methods": [m.name for m in scale.methods], "seeds": list(seeds),
              "sweeps": {k: list(v) for k, v in scale.sweeps.items()}}
    weights = imagenet_weights or scale.imagenet_weights or os.environ.get(IMAGENET_ENV)
    datasets = [ds for ds in scale.datasets if not only or ds.name in only]
    available = {}
    for ds in datasets:
        path = data_overrides.get(ds.name, ds.path)
        missing = dataset_available(path)
        if missing and ds.name in data_overrides:
            raise SynthclError(f"--dataset {ds.name}={path}: {missing}")
        available[ds.name] = (path, missing and f"{missing} (give --dataset {ds.name}=PATH)"
                              or pickle_problem(ds, path, allow_pickle))
    cells = []
    for seed in seeds:                     # seed-major: each finished seed is a complete table
        for ds in datasets:
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
        pending = (method.declared.epoch_size is None and "epochs" in pre_values
                   and not count_train)
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
    shared = method.declared.per_dataset
    values.update(data=path, mode=mode, n=min(ds.ns) if shared else n,
                  seed=scale.shared_pretrain_seed if shared else seed)
    if method.generator:
        values["generator"] = method.generator
    values.update(sweep)
    config = from_dict(PretrainConfig, values)
    defaults = PretrainConfig()
    reset = list(method.declared.unused)
    if method.generator and not uses_d(method.generator):
        reset.append("d")
    config = dataclasses.replace(config, **{k: getattr(defaults, k) for k in reset})
    if epochs is not None:
        count = method.declared.epoch_size
        size = count(n, config.m, config.universal_size) if count else None
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
