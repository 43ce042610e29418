"""Does pre-training learn features that beat a random network? The calibration behind the
settings of the mini experiment scales.

Pre-trains one run (``--set KEY=VALUE`` settings of :class:`PretrainConfig`), or re-probes
finished runs (``--probe DIR ...``), and prints one JSON line per run: the settings that matter,
first and last losses, the run's own monitor (kNN on the N images' halves, 20 validation images
for N=40: 5-point steps) and a larger kNN probe: 2000 training-split images outside the N against
the whole validation split, for the pre-trained backbone and for the same random initialisation.

    python benchmarks/calibrate_pretrain.py --set data=../shared/data/pcam --set image_size=32 \\
        --set width=16 --set m=256 --set steps=800 --set lr=0.003 --set temperature=0.1 \\
        --set key_momentum=0.99 --set queue_size=1024 --out runs/calib/pcam
    python benchmarks/calibrate_pretrain.py --probe runs/calib/*
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from synthcl.config import from_dict
from synthcl.data import load_dataset, sample_balanced
from synthcl.models import build_backbone
from synthcl.pretraining import PretrainConfig, pretrain
from synthcl.pretraining.monitor import embed, knn_accuracy
from synthcl.utils.seeding import derive_seed

PROBE_TRAIN = 2000
SHOWN = ("data", "mode", "generator", "d", "m", "n", "width", "image_size", "steps",
         "batch_size", "lr", "temperature", "key_momentum", "queue_size")


def large_probe(run: Path) -> dict:
    """kNN accuracy (k=20) of the run's backbone and of its random initialisation."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    data = load_dataset(cfg["data"], image_size=cfg["image_size"])
    train, val = data.splits["train"], data.splits.get("val")
    if val is None or not len(val):
        val = data.splits["test"]                  # no validation split: probe on the test split
    sample = sample_balanced(train, cfg["n"], cfg["seed"], data.class_names)
    rest = np.setdiff1d(np.arange(len(train)),
                        np.concatenate([sample.train_indices, sample.val_indices]))
    pick = np.random.default_rng(0).choice(rest, size=min(PROBE_TRAIN, len(rest)), replace=False)
    probe_train = train.subset(pick)
    hw = data.image_shape[:2]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg["seed"], "init"))
        random_net = build_backbone(cfg["arch"], cfg["width"], cfg["small_stem"], hw)
    trained = build_backbone(cfg["arch"], cfg["width"], cfg["small_stem"], hw)
    trained.load_state_dict(torch.load(run / "backbone.pt", weights_only=True), strict=False)
    cpu = torch.device("cpu")
    out = {}
    for name, net in (("pretrained", trained), ("random", random_net)):
        a = embed(net, probe_train.tensor().contiguous(), cpu, normalized=False)
        b = embed(net, val.tensor().contiguous(), cpu, normalized=False)
        out[f"knn{PROBE_TRAIN}_{name}"] = round(knn_accuracy(
            a, torch.from_numpy(probe_train.labels), b, torch.from_numpy(val.labels), 20,
            data.num_classes), 3)
    return out


def summary(run: Path) -> dict:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    probes = [r for r in records if "knn_acc" in r]
    return {"run": str(run), **{k: cfg[k] for k in SHOWN},
            "loss_first": round(losses[0], 3), "loss_last": round(float(np.mean(losses[-5:])), 3),
            "knn_N": round(probes[-1]["knn_acc"], 3),
            "knn_N_random": round(probes[-1]["knn_acc_random"], 3), **large_probe(run)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="runs/calib/run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--probe", nargs="+", type=Path, help="finished run directories")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = args.probe
    if not runs:
        settings = {"device": "cpu", "checkpoint_every": 10**9, "out": args.out}
        for item in args.set:
            key, _, value = item.partition("=")
            settings[key] = yaml.safe_load(value)
        runs = [pretrain(from_dict(PretrainConfig, settings)).out_dir]
    for run in runs:
        print(json.dumps(summary(Path(run))), flush=True)


if __name__ == "__main__":
    main()
