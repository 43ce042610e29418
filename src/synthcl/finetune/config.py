"""Settings of the downstream protocol (``synthcl finetune``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FinetuneConfig:
    # data
    data: str = "elpv"
    format: str | None = None
    image_size: str | None = None
    allow_pickle: bool = False
    split_seed: int = 0                # seeds the test split of datasets without an official one
    n: int = 40                        # labelled images: half train, half validation
    # model and its initialisation
    init: str = "scratch"              # scratch | imagenet:FILE | moco:FILE | pre-training run
    allow_unfinished: bool = False     # accept an --init pre-training that has not finished
    arch: str = "resnet18"
    width: int = 64
    small_stem: bool | None = None
    # the paper's recipe
    epochs: int = 100
    lr_step: int = 30                  # learning rate x0.1 every lr_step epochs
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grid: bool = True                  # search batch_sizes x lrs, keep the best on validation
    batch_sizes: list[int] = field(default_factory=lambda: [64, 128, 256])
    lrs: list[float] = field(default_factory=lambda: [0.01, 0.03, 0.05])
    lr: float | None = None            # a single configuration instead of the grid
    batch_size: int | None = None
    augment: str = "auto"              # per-dataset preset, see synthcl.finetune.augment
    eval_batch_size: int = 512         # images per batch when predicting validation/test
    probes: bool = True                # frozen-feature linear and kNN probes beside fine-tuning
    probe_head: bool = False           # LP-FT: the head starts as the start's linear probe
    # run
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    amp: bool = True
    channels_last: bool = True
    out: str = "runs/finetune"
