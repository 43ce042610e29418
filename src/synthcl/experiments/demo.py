"""The main job end to end on the embedded ``elpv`` solar-cell images, with no download.

A small class-balanced N (4 classes), synthetic images made from those N images by RandomCrop, a
short MoCo v2 pre-training on them, the fine-tuning protocol, and the same protocol from scratch
on the same N images (same seed), then ``report.md`` with a picture of the synthetic images. It
is an ordinary experiment spec run by the ordinary runner, so it resumes when interrupted and its
results sit in ``OUT/results.db``.

Default budget (2 CPU cores): elpv resized to 32 px, ResNet-18 at width 16, 600 MoCo steps of 64
pairs (~80 s at the ~480 pairs/s this machine gives when idle), fine-tuning 60 epochs over two
learning rates for each of the two initialisations and one seed (~40-60 s each), plus loading:
about 4 minutes. Measured on this machine while other jobs loaded it (load average ~4): with two
threads, 800 steps ran at 110 pairs/s and the demo took 10.4 minutes; with
``OMP_NUM_THREADS=1``, 600 steps ran at 137 pairs/s and the demo took 5.9 minutes (on a busy
machine two threads waiting on each other stall). That is far too little pre-training to show
the paper's effect reliably; it shows the pipeline and the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class DemoSettings:
    out: str = "results/demo"
    n: int = 40
    seeds: tuple[int, ...] = (0,)
    image_size: str = "32"
    width: int = 16
    steps: int = 600
    batch_size: int = 64
    m: int = 64
    d: int = 4
    epochs: int = 60
    lrs: tuple[float, ...] = (0.01, 0.05)
    device: str = "auto"


def demo_spec(s: DemoSettings) -> dict:
    return {
        "name": "demo", "kind": "table2",
        "description": "The main job on the embedded elpv electroluminescence images: ours "
                       "(MoCo v2 on RandomCrop synthetic images made from the N labelled images) "
                       "against training from scratch on the same N images.",
        "scales": {"demo": {
            "description": f"N={s.n}, {s.image_size} px, ResNet-18 width {s.width}, {s.steps} "
                           f"MoCo steps of {s.batch_size} pairs, {s.epochs} fine-tuning epochs; "
                           "a demonstration of the pipeline, far too short to prove the method.",
            "datasets": {"elpv": {"path": "elpv", "image_size": s.image_size, "n": [s.n]}},
            "methods": ["scratch", "ours:randomcrop"],
            "seeds": list(s.seeds),
            "common": {"arch": "resnet18", "width": s.width},
            "pretrain": {"steps": s.steps, "batch_size": s.batch_size, "m": s.m, "d": s.d,
                         "checkpoint_every": max(1, s.steps // 4)},
            "finetune": {"epochs": s.epochs, "lr_step": max(1, s.epochs * 3 // 10),
                         "batch_sizes": [64], "lrs": list(s.lrs)},
        }},
    }


def run_demo(s: DemoSettings) -> tuple[Path, int]:
    """Run the demo grid into ``s.out`` and write its report; returns report.md's path and the
    number of failed cells."""
    from synthcl.experiments.report import write_report
    from synthcl.experiments.runner import run_cells
    from synthcl.experiments.spec import expand_cells, parse_spec
    from synthcl.experiments.store import ResultStore

    out = Path(s.out)
    store = ResultStore(out / "results.db")
    spec = parse_spec(demo_spec(s), "demo")
    cells = expand_cells(spec, "demo", store.results_dir, device=s.device)
    summary = run_cells(cells, store)
    if summary.failed:
        print(f"demo: {summary.failed} cell(s) failed; the report shows why")
    return write_report(store.path, out), summary.failed
