"""The downstream protocol of the paper (Sec. 4.1): N labelled images -> one test accuracy.

For each seed: N images are drawn class-balanced from the training split (half train, half
validation; ``synthcl.data.sample_balanced``); the whole classifier is trained for every
configuration of the grid (batch size {64, 128, 256} x initial learning rate {0.01, 0.03, 0.05},
batch sizes capped at the training-half size, configurations made identical by the cap run
once); the configuration and epoch with the best validation accuracy are kept (ties: lower
validation loss, then the earlier configuration in grid order / the earlier epoch); only then is
the test split predicted, once. The selection (:func:`select_configuration`) receives the two
halves and nothing else, so the test split cannot influence any choice.

Several seeds repeat the whole protocol (sampling, initialisation, training) and report the mean
and the sample standard deviation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synthcl.config import dump_yaml, to_dict
from synthcl.data import ImageData, Split, load_for_config, sample_balanced
from synthcl.errors import SynthclError
from synthcl.finetune.augment import Augmentation, resolve_augmentation
from synthcl.finetune.classifier import Classifier, predict_logits, save_model
from synthcl.finetune.config import FinetuneConfig
from synthcl.finetune.init import initialised_classifier, resolve_architecture
from synthcl.finetune.metrics import classification_metrics
from synthcl.finetune.probes import probe_backbone, probe_head
from synthcl.finetune.train import (
    HyperParams,
    TrainResult,
    TrainSettings,
    train_configuration,
)
from synthcl.models.resnet import wants_small_stem
from synthcl.utils.atomic import write_json, write_text
from synthcl.utils.devices import resolve_device
from synthcl.utils.seeding import derive_seed
from synthcl.weights import InitWeights, read_init


@dataclass
class Selection:
    """The winning configuration's run (with its best weights) and every configuration's summary."""

    best: TrainResult
    runs: list[dict]


def candidate_configurations(config: FinetuneConfig, n_train: int) -> list[HyperParams]:
    """The grid (or the one configuration asked), batch sizes capped at ``n_train``, deduplicated
    in order."""
    batch_sizes = [config.batch_size] if config.batch_size is not None else config.batch_sizes
    lrs = [config.lr] if config.lr is not None else config.lrs
    if not config.grid and (config.lr is None or config.batch_size is None):
        missing = " and ".join(f"--{name}" for name, v in (("lr", config.lr),
                                                          ("batch-size", config.batch_size))
                               if v is None)
        raise SynthclError(f"--no-grid needs one configuration: give {missing} (or drop "
                           "--no-grid to search the grid)")
    if not batch_sizes or not lrs:
        raise SynthclError("the grid is empty: give at least one batch size and one learning rate")
    bad = [f"batch size {b}" for b in batch_sizes if b < 2] + [f"lr {x}" for x in lrs if x <= 0]
    if bad:
        raise SynthclError(f"{', '.join(bad)}: batch sizes must be at least 2 (BatchNorm needs "
                           f"two images) and learning rates positive")
    configs = [HyperParams(min(b, n_train), float(lr)) for b in batch_sizes for lr in lrs]
    return list(dict.fromkeys(configs))


def train_settings(config: FinetuneConfig, device: torch.device) -> TrainSettings:
    for name in ("epochs", "lr_step", "eval_batch_size"):
        if getattr(config, name) < 1:
            raise SynthclError(f"{name}={getattr(config, name)}: must be at least 1")
    return TrainSettings(epochs=config.epochs, lr_step=config.lr_step, momentum=config.momentum,
                         weight_decay=config.weight_decay, device=device, amp=config.amp,
                         channels_last=config.channels_last,
                         eval_batch_size=config.eval_batch_size)


def select_configuration(train: Split, val: Split, make_model: Callable[[], nn.Module],
                         candidates: list[HyperParams], settings: TrainSettings,
                         augment: Augmentation, seed: int, label: str = "") -> Selection:
    """Train every candidate on ``train``, keep the configuration and epoch best on ``val``.

    Only the best run's weights stay in memory. This function sees the two halves of the N
    labelled images and nothing else.
    """
    device = settings.device
    train_x = train.tensor().contiguous().to(device)
    train_y = torch.from_numpy(train.labels).to(device)
    val_x = val.tensor().contiguous().to(device)
    val_y = torch.from_numpy(val.labels).to(device)
    best: TrainResult | None = None
    runs = []
    for params in candidates:
        desc = f"{label}bs {params.batch_size} lr {params.lr:g}"
        result = train_configuration(make_model(), train_x, train_y, val_x, val_y, params,
                                     settings, augment, seed, desc=desc)
        runs.append(result.summary())
        if best is None or result.score() > best.score():
            best = result
        else:
            result.best_state = {}
    assert best is not None
    return Selection(best, runs)


def measure(model: nn.Module, split: Split, class_names: tuple[str, ...],
            settings: TrainSettings, desc: str = "test") -> dict:
    """Predict ``split`` once and compute the metrics (see :mod:`synthcl.finetune.metrics`)."""
    logits = predict_logits(model, split.tensor(), settings.device,
                            batch_size=settings.eval_batch_size, amp=settings.amp,
                            channels_last=settings.channels_last, desc=desc)
    return classification_metrics(split.labels, logits.argmax(1).numpy(), class_names)


def finetune_seed(config: FinetuneConfig, data: ImageData, seed: int,
                  explicit: Collection[str] = ()) -> dict:
    """One full protocol run for one seed; a JSON-able result (see :func:`run_seed`)."""
    weights = read_init(config.init, config.arch, allow_unfinished=config.allow_unfinished)
    return run_seed(config, data, seed, weights, explicit)[0]


def run_seed(config: FinetuneConfig, data: ImageData, seed: int, weights: InitWeights,
             explicit: Collection[str] = ()) -> tuple[dict, Classifier, dict]:
    """(result, the selected classifier on the CPU, its architecture) for one seed."""
    start = time.perf_counter()
    _check_data(data)
    device = resolve_device(config.device)
    settings = train_settings(config, device)
    h, w, _ = data.image_shape
    architecture = resolve_architecture(weights, config.arch, config.width, config.small_stem,
                                        explicit)
    if architecture["small_stem"] is None:
        architecture["small_stem"] = wants_small_stem(h, w)
    augment = resolve_augmentation(config.augment, data.modality)
    sample = sample_balanced(data.splits["train"], config.n, seed, data.class_names)
    candidates = candidate_configurations(config, len(sample.train))
    init_seed = derive_seed(seed, "finetune-init")

    def initial() -> Classifier:
        return initialised_classifier(weights, architecture, data.num_classes, (h, w), init_seed)

    head = probe_head(initial().backbone, sample.train, sample.val, data.num_classes, device,
                      settings.eval_batch_size) if config.probe_head else None

    def make_model() -> nn.Module:
        model = initial()
        if head is not None:
            with torch.no_grad():
                model.head.weight.copy_(head[0])
                model.head.bias.copy_(head[1])
        return model

    probes = frozen_probes(config, data, sample, weights, architecture, init_seed, settings)
    selection = select_configuration(sample.train, sample.val, make_model, candidates, settings,
                                     augment, seed, label=f"seed {seed} ")
    model = make_model()
    model.load_state_dict(selection.best.best_state)
    model.to(device)
    test = measure(model, data.splits["test"], data.class_names, settings,
                   desc=f"seed {seed} test")
    best = selection.best
    result = {
        "seed": seed,
        "n": config.n,
        "init": config.init,
        "init_weights": weights.describe(),
        "architecture": architecture,
        "augment": augment.describe(),
        "device": str(device),
        "chosen": {"batch_size": best.params.batch_size, "lr": best.params.lr,
                   "epoch": best.best_epoch},
        "val_accuracy": best.best_val_accuracy,
        "val_loss": best.best_val_loss,
        "val_curve": best.val_accuracy,
        "val_loss_curve": best.val_loss,
        "train_loss_curve": best.train_loss,
        "grid": selection.runs,
        "accuracy": test["accuracy"],
        "balanced_accuracy": test["balanced_accuracy"],
        "per_class_accuracy": test["per_class_accuracy"],
        "confusion_matrix": test["confusion_matrix"],
        "test_class_counts": test["class_counts"],
        "probes": probes,
        "sample": {"train_indices": sample.train_indices.tolist(),
                   "val_indices": sample.val_indices.tolist()},
        "wall_time_s": round(time.perf_counter() - start, 3),
    }
    return result, model.cpu(), architecture


def frozen_probes(config: FinetuneConfig, data: ImageData, sample, weights: InitWeights,
                  architecture: dict, init_seed: int, settings: TrainSettings) -> dict | None:
    """The linear and kNN probes (:mod:`synthcl.finetune.probes`) of the initial backbone and,
    for a pre-trained one, of the same architecture at random initialisation (the backbone a
    ``scratch`` run of this seed starts from); None when ``config.probes`` is off."""
    if not config.probes:
        return None
    h, w, _ = data.image_shape
    inits = {"random": read_init("scratch", config.arch)}
    if config.init != "scratch":
        inits["pretrained"] = weights
    return {name: probe_backbone(
                initialised_classifier(init, architecture, data.num_classes, (h, w),
                                       init_seed).backbone,
                sample.train, sample.val, data.splits["test"], data.class_names,
                settings.device, settings.eval_batch_size)
            for name, init in inits.items()}


def finetune(config: FinetuneConfig, data: ImageData | None = None,
             explicit: Collection[str] = ()) -> dict:
    """Every seed of ``config.seeds``; writes ``config.out``/result.json, config.yaml and
    seed<k>/{model.pt, result.json}. Returns the result.json content."""
    start = time.perf_counter()
    if not config.seeds:
        raise SynthclError("no seeds given: use --seed S or --seeds 0,1,2")
    data = data if data is not None else load_for_config(config)
    weights = read_init(config.init, config.arch, allow_unfinished=config.allow_unfinished)
    out = Path(config.out)
    write_text(out / "config.yaml", dump_yaml(config))
    report = {"config": to_dict(config), "dataset": _describe_data(data), "seeds": [],
              "complete": False}
    for seed in config.seeds:
        result, model, architecture = run_seed(config, data, seed, weights, explicit)
        h, w, c = data.image_shape
        save_model(out / f"seed{seed}" / "model.pt", model, architecture=architecture,
                   class_names=list(data.class_names), image_hw=(h, w), channels=c,
                   data=_data_settings(config, data), config=to_dict(config), result=result)
        write_json(out / f"seed{seed}" / "result.json", result)
        report["seeds"].append(result)
        report["summary"] = summarize(report["seeds"])
        write_json(out / "result.json", report)
    report["complete"] = True
    report["wall_time_s"] = round(time.perf_counter() - start, 3)
    write_json(out / "result.json", report)
    return report


def summarize(results: list[dict]) -> dict:
    """Mean, sample standard deviation (0 for one seed) and values of the headline metrics."""
    summary = {}
    for key in ("accuracy", "balanced_accuracy", "val_accuracy"):
        values = [float(r[key]) for r in results]
        std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        summary[key] = {"mean": float(np.mean(values)), "std": std, "values": values}
    return summary


def _check_data(data: ImageData) -> None:
    if data.num_classes < 2:
        raise SynthclError(f"dataset {data.source}: {data.num_classes} class; classification "
                           "needs at least two")
    if len(data.splits.get("test", ())) == 0:
        raise SynthclError(f"dataset {data.source}: the test split is empty; nothing to measure")


def _describe_data(data: ImageData) -> dict:
    test_counts = data.splits["test"].class_counts(data.num_classes)
    return {"name": data.name, "source": data.source, "format": data.format,
            "modality": data.modality, "split_note": data.split_note,
            "class_names": list(data.class_names), "image_shape": list(data.image_shape),
            "test_class_counts": {name: int(test_counts[i])
                                  for i, name in enumerate(data.class_names)},
            "majority_share": float(test_counts.max() / max(test_counts.sum(), 1)),
            "train_size": len(data.splits["train"]), "test_size": len(data.splits["test"])}


def _data_settings(config: FinetuneConfig, data: ImageData) -> dict:
    return {"data": config.data, "format": config.format, "image_size": config.image_size,
            "allow_pickle": config.allow_pickle, "name": data.name, "modality": data.modality}

