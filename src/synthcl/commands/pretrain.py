"""``synthcl pretrain``: MoCo v2 pre-training in any mode, from a YAML file and/or plain options."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "pre-train a backbone with MoCo v2 (ours | cl-real | cl-all | cl-aug | universal)"

OPTIONS = ["data", "format", "image_size", "allow_pickle", "split_seed", "mode", "generator",
           "d", "n", "m", "arch", "width", "steps", "epochs", "batch_size", "queue_size", "sizing",
           "lr", "amp", "seed", "device", "out", "checkpoint_every", "init", "allow_unfinished",
           "resume"]
HELPS = {
    "data": "dataset file/folder or embedded name",
    "split_seed": "seed of the stratified test split of datasets without an official one",
    "mode": "what to pre-train on: ours | cl-real | cl-all | cl-aug | universal",
    "generator": "f_S: patchshuffle | randomcrop | gpnn | mix:a+b",
    "d": "divisions per side of the patch generators",
    "n": "labelled images sampled (class-balanced) as sources and for the monitor",
    "m": "synthetic images per source image (mode ours)",
    "arch": "resnet18 | resnet50",
    "width": "base width of the ResNet (64 = torchvision's)",
    "image_size": "resize at load: S or WxH",
    "steps": "optimisation steps at --batch-size: the budget is steps x batch-size pairs",
    "batch_size": "global batch (instances per step, over all processes); at most, under fair "
                  "sizing",
    "epochs": "passes over the instances instead of --steps (the paper: 400); steps = "
              "ceil(epochs x instances / batch)",
    "queue_size": "negative keys in the MoCo queue; at most, under fair sizing",
    "sizing": "fair: batch <= instances/2, queue <= instances - batch, steps scaled to the same "
              "pairs (no instance repeats in a batch or is its own negative) | literal: as given",
    "lr": "Adam learning rate (cosine decay to 0)",
    "amp": "bf16 autocast on CUDA and on CPUs with native bf16 (off under deterministic)",
    "seed": "seeds the N-image sample, the model and every random draw",
    "device": "auto | cpu | cuda[:k]",
    "out": "run directory (checkpoint.pt, backbone.pt, log.jsonl, config.yaml, TensorBoard)",
    "checkpoint_every": "steps between checkpoints (also every ~5 minutes and at the end)",
    "init": "start from a MoCo checkpoint (module.encoder_q.*) or a synthcl run/backbone",
    "allow_unfinished": "accept an --init pre-training that has not finished",
    "resume": "continue the run in --out (its config.yaml is the base settings)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from synthcl.config import add_config_arguments
    from synthcl.pretraining.config import PretrainConfig

    add_config_arguments(parser, PretrainConfig, OPTIONS, HELPS)
    parser.epilog = ("Every other setting: --set KEY=VALUE (e.g. --set temperature=0.1). "
                     "Several processes: torchrun --nproc_per_node=K -m -- synthcl pretrain ... "
                     "(the -- keeps torchrun off synthcl's options).")


def run(args: argparse.Namespace) -> int:
    from synthcl.config import config_from_args
    from synthcl.pretraining import PretrainConfig, pretrain
    from synthcl.pretraining.distributed import is_main_process
    from synthcl.utils.outputs import check_apart, removed_on_failure

    if args.resume and not args.config:
        saved = Path(args.out or PretrainConfig.out) / "config.yaml"
        if saved.exists():
            args.config = str(saved)
    config = config_from_args(PretrainConfig, args, OPTIONS)
    check_apart(config.out, [config.data, config.init])
    out = Path(config.out)
    with removed_on_failure(out, "pretrain", keep=(out / "checkpoint.pt").exists):
        result = pretrain(config)
    if not is_main_process():                    # the other torchrun ranks stay quiet
        return 0
    monitor = result.monitor
    print(f"pre-trained {result.steps} steps in {result.wall_time_s:.0f} s "
          f"({result.images_per_s:.0f} images/s), final loss {result.final_loss:.3f}")
    if "knn_acc" in monitor:
        print(f"kNN probe on the N images: {monitor['knn_acc']:.3f} "
              f"(random init: {monitor['knn_acc_random']:.3f})")
    print(f"backbone: {result.backbone_path}\ncheckpoint: {result.checkpoint_path}")
    return 0
