"""Settings of one pre-training run (``synthcl pretrain``)."""

from __future__ import annotations

from dataclasses import dataclass

SIZINGS = ("fair", "literal")
# Settings that change how a run is executed, never what it computes: a resumed run and a run
# shared by several experiment cells may differ in them.
OPERATIONAL = ("out", "resume", "device", "workers", "checkpoint_every", "monitor_every",
               "cache_dir", "compile")


@dataclass
class PretrainConfig:
    # data
    data: str = "elpv"                 # dataset path or embedded name (see synthcl.data)
    format: str | None = None          # force a source format instead of detecting it
    image_size: str | None = None      # resize at load: "S" or "WxH" (e.g. 250x190)
    allow_pickle: bool = False         # needed for WM-811K LSWMD.pkl (a pickle can run code)
    split_seed: int = 0                # seeds the test split of datasets without an official one
    n: int = 40                        # labelled images sampled (class-balanced) as sources
    # what is pre-trained on
    mode: str = "ours"                 # ours | cl-real | cl-all | cl-aug | universal
    generator: str = "randomcrop"      # f_S for ours / cl-aug: patchshuffle|randomcrop|gpnn|mix:a+b
    d: int = 4                         # divisions per side for patch generators
    m: int = 256                       # synthetic images per source image (ours)
    universal_size: int = 100_000      # dead-leaves images in the universal set
    cache_dir: str | None = None       # synthetic-set cache ($SYNTHCL_CACHE or ~/.cache/synthcl)
    # model
    arch: str = "resnet18"             # resnet18 | resnet50
    width: int = 64                    # base width (64 = torchvision's; smaller for CPU runs)
    small_stem: bool | None = None     # 3x3 stride-1 stem, no max-pool; None: when side < 64
    dim: int = 128                     # projection output dimension
    temperature: float = 0.2
    key_momentum: float = 0.999
    queue_size: int = 65536            # at most; "fair" sizing caps it (see sizing)
    bn_splits: int = 0                 # shuffle-BN groups over the global batch; 0: automatic
    init: str | None = None            # start from: MoCo checkpoint (module.encoder_q.*), synthcl
    #                                    pre-training dir / checkpoint.pt / backbone.pt
    allow_unfinished: bool = False     # accept an --init pre-training that has not finished
    # optimisation
    steps: int = 2000                  # at batch_size; fair sizing keeps steps x batch_size pairs
    epochs: float | None = None        # instead of steps: passes over the instances
    batch_size: int = 128              # at most; "fair" sizing caps it (see sizing)
    sizing: str = "fair"               # fair: batch <= instances/2, queue <= instances - batch,
    #                                    same pairs; literal: batch_size and queue_size as given
    optimizer: str = "adam"            # adam (the paper's) | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-6
    warmup_steps: int = 0
    # run
    seed: int = 0                      # seeds the N-image sample, the model and every draw
    device: str = "auto"               # auto | cpu | cuda[:k]
    amp: bool = True                   # bf16 autocast on CUDA and on CPUs with native bf16
    channels_last: bool = True         # channels-last memory format (CUDA; CPU with bf16)
    deterministic: bool = False        # fp32, deterministic kernels (bit-exact resume on CPU)
    compile: bool = False              # torch.compile (inductor) the forward; eager if it fails
    workers: int = 0                   # host threads/processes producing batches
    checkpoint_every: int = 500        # steps between checkpoints (also every ~5 minutes)
    monitor_every: int = 0             # steps between kNN probes; 0: 10 probes per run
    knn_k: int = 20                    # neighbours of the kNN probe
    out: str = "runs/pretrain"
    resume: bool = False
