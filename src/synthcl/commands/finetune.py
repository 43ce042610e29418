"""``synthcl finetune``: the paper's downstream protocol on N labelled images, one or more seeds."""

from __future__ import annotations

import argparse
import time

from synthcl.config import add_config_arguments, config_from_args, load_yaml
from synthcl.errors import SynthclError
from synthcl.finetune.config import FinetuneConfig
from synthcl.utils.outputs import check_apart, removed_on_failure

HELP = "fine-tune a classifier on N labelled images (grid on validation) and measure the test set"

NAMES = ["data", "format", "image_size", "allow_pickle", "split_seed", "n", "init", "arch", "width",
         "small_stem", "allow_unfinished", "epochs", "grid", "batch_sizes", "lrs", "lr",
         "batch_size", "augment", "seeds", "device", "amp", "channels_last", "eval_batch_size",
         "probes", "probe_head", "out"]
HELPS = {
    "data": "dataset: a file or folder in a supported format, or 'elpv'",
    "format": "force the data format instead of detecting it",
    "image_size": "resize every image at load: S or WxH (e.g. 250x190)",
    "allow_pickle": "allow reading pickle files (WM-811K LSWMD.pkl; a pickle can run code)",
    "split_seed": "seed of the stratified test split of datasets without an official one",
    "n": "labelled images drawn class-balanced from the training split, half train, half val",
    "init": "scratch | imagenet[:FILE] | moco:FILE | a 'synthcl pretrain' folder, "
            "checkpoint.pt or backbone.pt",
    "allow_unfinished": "accept an --init pre-training that has not finished",
    "arch": "resnet18 | resnet50 (scratch only; read from the weights otherwise)",
    "width": "base width (scratch only)",
    "small_stem": "3x3 stride-1 stem without max-pool (scratch; default: when the side < 64)",
    "epochs": "epochs per configuration (the paper: 100; lr x0.1 every 30)",
    "grid": "search batch sizes x learning rates on validation (--no-grid: --lr and "
            "--batch-size)",
    "batch_sizes": "grid batch sizes, comma-separated (capped at the training-half size)",
    "lrs": "grid initial learning rates, comma-separated",
    "lr": "one initial learning rate instead of the grid's",
    "batch_size": "one batch size instead of the grid's",
    "augment": "auto (per modality) | none | hflip | light | dihedral | ops joined by '+' "
               "(hflip, vflip, rot90, shift)",
    "seeds": "seeds, comma-separated: each repeats sampling, initialisation and training",
    "device": "auto | cpu | cuda[:k]",
    "amp": "bf16 autocast on CUDA (fine-tuning stays fp32 on the CPU)",
    "channels_last": "channels-last memory layout on CUDA",
    "eval_batch_size": "images per batch when predicting validation and test",
    "probes": "frozen-feature linear and kNN probes of the initial and a random backbone, "
              "chosen on validation, scored on the test split",
    "probe_head": "linear probe, then fine-tune (LP-FT): the head starts as the linear probe of "
                  "the starting backbone, chosen on the two halves",
    "out": "output folder: result.json, config.yaml, seed<k>/model.pt",
}
ARCH_SETTINGS = ("arch", "width", "small_stem")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, FinetuneConfig, NAMES, HELPS)
    parser.add_argument("--seed", type=int, default=None, metavar="S",
                        help="one seed (same as --seeds S)")


def explicit_settings(args: argparse.Namespace) -> set[str]:
    """Settings the user gave (options, --set, --config file), not left at their defaults."""
    given = {name for name in NAMES if getattr(args, name, None) is not None}
    given |= {item.partition("=")[0].strip().replace("-", "_") for item in args.set_}
    if args.config:
        given |= set(load_yaml(args.config))
    return given


def run(args: argparse.Namespace) -> int:
    from synthcl.finetune import finetune

    if args.seed is not None and args.seeds is not None:
        raise SynthclError("give either --seed S or --seeds S1,S2,..., not both")
    config = config_from_args(FinetuneConfig, args, NAMES)
    if args.seed is not None:
        config.seeds = [args.seed]
    check_apart(config.out, [config.data])
    start = time.perf_counter()
    with removed_on_failure(config.out, "finetune"):
        report = finetune(config, explicit=explicit_settings(args) & set(ARCH_SETTINGS))
    print(summary_table(report, time.perf_counter() - start))
    return 0


def summary_table(report: dict, wall_time_s: float) -> str:
    """The per-seed table, mean +- std, and the test split's class balance."""
    rows = [f"{'seed':>4} {'batch':>5} {'lr':>6} {'epoch':>5} {'val acc':>7} {'test acc':>8} "
            f"{'bal acc':>7} {'time':>7}"]
    for r in report["seeds"]:
        chosen = r["chosen"]
        rows.append(f"{r['seed']:>4} {chosen['batch_size']:>5} {chosen['lr']:>6g} "
                    f"{chosen['epoch']:>5} {r['val_accuracy']:>7.3f} {r['accuracy']:>8.3f} "
                    f"{r['balanced_accuracy']:>7.3f} {r['wall_time_s']:>6.0f}s")
    s = report["summary"]
    k = len(report["seeds"])
    rows.append(f"accuracy {s['accuracy']['mean']:.3f} +- {s['accuracy']['std']:.3f}, balanced "
                f"accuracy {s['balanced_accuracy']['mean']:.3f} +- "
                f"{s['balanced_accuracy']['std']:.3f} over {k} seed{'s' if k > 1 else ''}")
    data = report["dataset"]
    counts = data["test_class_counts"]
    total = sum(counts.values())
    balance = ", ".join(f"{name} {c} ({c / total:.1%})" for name, c in counts.items())
    rows.append(f"test split: {total} images: {balance}; majority-class accuracy "
                f"{data['majority_share']:.3f}, uniform guess {1 / len(counts):.3f}")
    out = report["config"]["out"]
    rows.append(f"wrote {out}/result.json and {out}/seed<k>/model.pt; wall time "
                f"{wall_time_s:.1f} s")
    return "\n".join(rows)
