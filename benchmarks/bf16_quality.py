"""Does bf16 autocast cost quality? Pre-trains the calibrated CPU settings with ``amp`` on and off
for several seeds and compares the frozen linear / kNN probe gain over random features, paired
by seed, with a 95% interval of the bf16-minus-fp32 difference.

Settings (the calibrated CPU ones): ResNet-18 width 8, N=40, ``ours`` with RandomCrop, Adam lr
0.001, temperature 0.2, key momentum 0.99, queue 256, batch 64; PCam at 32 px and
PneumoniaMNIST at 28 px. The probes are :func:`synthcl.finetune.probes.probe_backbone` on the
pre-trained backbone and on the same random initialisation (as ``finetune``'s frozen probes).

    python benchmarks/bf16_quality.py --steps 600 --seeds 0,1,2,3 --threads 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from synthcl.data import load_dataset, sample_balanced
from synthcl.experiments.verdict import paired
from synthcl.finetune.probes import probe_backbone
from synthcl.models import build_backbone
from synthcl.pretraining import PretrainConfig, pretrain
from synthcl.utils.devices import cpu_has_native_bf16
from synthcl.utils.seeding import derive_seed

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DATASETS = {"pcam": (SHARED / "pcam", "32"),
            "pneumoniamnist": (SHARED / "pneumoniamnist" / "pneumoniamnist.npz", "28")}
CALIBRATED = dict(mode="ours", generator="randomcrop", n=40, arch="resnet18", width=8,
                  lr=0.001, temperature=0.2, key_momentum=0.99, queue_size=256, batch_size=64,
                  device="cpu")
PROBES = (("linear", "balanced_accuracy"), ("knn", "balanced_accuracy"))


def backbone_of(config: PretrainConfig, hw: tuple[int, int], weights: Path | None):
    """The run's random initialisation, or its pre-trained backbone from ``weights``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(config.seed, "init"))
        net = build_backbone(config.arch, config.width, config.small_stem, hw)
    if weights is not None:
        net.load_state_dict(torch.load(weights, weights_only=True), strict=False)
    return net


def scores(backbone, data, config: PretrainConfig) -> dict[str, float]:
    """Balanced accuracy (points) of each probe of a frozen ``backbone``."""
    sample = sample_balanced(data.splits["train"], config.n, config.seed, data.class_names)
    result = probe_backbone(backbone, sample.train, sample.val, data.splits["test"],
                            data.class_names, torch.device("cpu"))
    return {name: 100 * result[name][metric] for name, metric in PROBES}


def run_seed(data, image_size: str, seed: int, steps: int, out: Path) -> dict[str, dict]:
    """Probe gains over random features of the fp32 and the bf16 run of one seed."""
    gains = {}
    for label, amp in (("fp32", False), ("bf16", True)):
        config = PretrainConfig(data="memory", image_size=image_size, steps=steps, seed=seed,
                                amp=amp, monitor_every=steps, checkpoint_every=steps,
                                out=str(out / f"{label}{seed}"), **CALIBRATED)
        t0 = time.perf_counter()
        result = pretrain(config, data)
        hw = data.image_shape[:2]
        trained = scores(backbone_of(config, hw, result.backbone_path), data, config)
        random = scores(backbone_of(config, hw, None), data, config)
        gains[label] = {k: trained[k] - random[k] for k in trained}
        print(f"  seed {seed} {label}: loss {result.final_loss:.3f}, "
              f"{time.perf_counter() - t0:.0f} s, gains "
              + ", ".join(f"{k} {v:+.1f}" for k, v in gains[label].items()), flush=True)
    return gains


def report(name: str, per_seed: dict[int, dict[str, dict]]) -> None:
    for probe, _ in PROBES:
        fp32 = {s: g["fp32"][probe] for s, g in per_seed.items()}
        bf16 = {s: g["bf16"][probe] for s, g in per_seed.items()}
        diff = paired(bf16, fp32)
        interval = "" if diff.low is None else f"[{diff.low:+.1f}, {diff.high:+.1f}]"
        print(f"{name:<16} {probe:<7} {_mean(fp32):>+10.1f} {_mean(bf16):>+10.1f} "
              f"{diff.mean:>+9.1f} {interval:>16} {diff.seeds:>6}")


def _mean(values: dict[int, float]) -> float:
    return sum(values.values()) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not cpu_has_native_bf16():
        print("note: this CPU has no native bf16, so amp=true runs fp32: both columns are fp32")
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            path, size = DATASETS[name]
            data = load_dataset(path, image_size=size)
            print(f"{name} at {size} px, {args.steps} steps, seeds {seeds}", flush=True)
            results[name] = {s: run_seed(data, size, s, args.steps, Path(tmp) / name)
                             for s in seeds}
    print("\nprobe gain over random features (balanced-accuracy points), paired by seed")
    print(f"{'dataset':<16} {'probe':<7} {'fp32 gain':>10} {'bf16 gain':>10} "
          f"{'bf16-fp32':>9} {'95% interval':>16} {'seeds':>6}")
    for name, per_seed in results.items():
        report(name, per_seed)


if __name__ == "__main__":
    main()
