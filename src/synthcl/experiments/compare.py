"""``synthcl compare``: does pre-training on synthetic images made from my N images beat training
from scratch on my data, by how much, and how sure are we?

Scratch against ours (and MoCo on the N real images with ``cl_real``), over K paired seeds
(seed k: the same N images and halves for every method), sized to a time budget:

1. a short calibration times pre-training steps and a fine-tuning on this machine and data;
2. the plan takes the longest pre-training (up to ``MAX_STEPS`` of ``BATCH`` pairs) that lets
   ``PREFERRED_SEEDS`` seeds fit the budget, then adds seeds while they fit (more seeds, a
   narrower interval), or drops to fewer seeds (at least ``MIN_SEEDS``) at the shortest
   pre-training; a budget too small for that is refused with the minimum it needs;
3. the cells run through the ordinary experiment runner (resumable: the plan is saved in
   ``OUT/plan.json`` and reused when the command runs again), and ``OUT/report.md`` opens with
   the verdict: balanced accuracy first (the N images are class-balanced, test splits rarely
   are), beside the majority-class and chance baselines, the frozen probes, then
   ``ours - scratch: +x balanced-accuracy points [low, high] over K seeds; linear probe ...``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from synthcl.errors import SynthclError
from synthcl.utils.atomic import write_text

BATCH = 64
STEP_CHOICES = (2500, 2000, 1500, 1000, 800, 600, 400)
MAX_STEPS, MIN_STEPS = STEP_CHOICES[0], STEP_CHOICES[-1]
PREFERRED_SEEDS, MIN_SEEDS, MAX_SEEDS = 8, 3, 16
EPOCHS, LRS = 60, (0.01, 0.05)
SAFETY = 0.8                 # plan to use this share of the budget (timings on a shared machine)
AUTO_SIDE = 48               # "auto" image size: sides above 64 px are resized to this


@dataclass
class CompareSettings:
    data: str
    out: str = "results/compare"
    budget_s: float = 600.0
    n: int = 40
    format: str | None = None
    image_size: str | None = "auto"
    allow_pickle: bool = False
    generator: str = "randomcrop"
    cl_real: bool = False
    seeds: int | None = None          # fixed number of seeds instead of the budget's choice
    steps: int | None = None          # fixed pre-training steps instead of the budget's choice
    width: int = 8
    workers: int = field(default_factory=lambda: max(1, min(2, os.cpu_count() or 1)))
    device: str = "auto"


@dataclass
class Plan:
    seeds: int
    steps: int
    image_size: str | None
    estimate_s: float
    pretrain_pairs_per_s: float
    finetune_s: float
    budget_s: float


def methods(s: CompareSettings) -> list[str]:
    return ["scratch", f"ours:{s.generator}"] + (["cl-real"] if s.cl_real else [])


def resolve_image_size(s: CompareSettings, data) -> str | None:
    """``auto``: keep images up to 64 px a side, resize larger ones to 48 px squares."""
    if s.image_size != "auto":
        return s.image_size
    h, w, _ = data.image_shape
    return None if max(h, w) <= 64 else str(AUTO_SIDE)


def spec_dict(s: CompareSettings, plan: Plan) -> dict:
    """The comparison as an ordinary experiment spec (one scale, ``compare``)."""
    dataset = {"path": s.data, "n": [s.n]}
    for key, value in (("format", s.format), ("image_size", plan.image_size)):
        if value is not None:
            dataset[key] = value
    return {
        "name": "compare", "kind": "table2",
        "description": f"scratch against {', '.join(methods(s)[1:])} on {s.data}, paired seeds",
        "scales": {"compare": {
            "description": (f"N={s.n}, {plan.seeds} seeds, ResNet-18 width {s.width}, "
                            f"{plan.steps} MoCo steps of {BATCH} pairs (fair sizing), "
                            f"{EPOCHS} fine-tuning epochs over learning rates "
                            f"{', '.join(map(str, LRS))}; planned for a budget of "
                            f"{plan.budget_s / 60:.0f} min (estimate {plan.estimate_s / 60:.1f} "
                            f"min)."),
            "datasets": {"data": dataset},
            "methods": methods(s),
            "seeds": list(range(plan.seeds)),
            "common": {"arch": "resnet18", "width": s.width},
            "pretrain": {"steps": plan.steps, "batch_size": BATCH, "m": 64, "d": 4,
                         "lr": 0.001, "temperature": 0.2, "key_momentum": 0.99,
                         "queue_size": 256, "checkpoint_every": max(1, plan.steps // 4)},
            "finetune": {"epochs": EPOCHS, "lr_step": EPOCHS * 3 // 10, "batch_sizes": [64],
                         "lrs": list(LRS)},
        }},
    }


def calibrate(s: CompareSettings, data) -> tuple[float, float]:
    """(pre-training pairs/s, seconds of one method's fine-tuning of one seed over the grid with
    its probes), timed here on short runs with the threads one worker will have."""
    import torch

    from synthcl.finetune import FinetuneConfig, finetune_seed
    from synthcl.pretraining import PretrainConfig, pretrain

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // s.workers))
    try:
        with tempfile.TemporaryDirectory(prefix="synthcl-calibration-") as work, \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")          # a calibration's sizing notes are noise
            steps = 30
            result = pretrain(PretrainConfig(
                data=s.data, mode="ours", generator=s.generator, n=s.n,
                m=max(4, math.ceil(4 * BATCH / s.n)), width=s.width,
                steps=steps, batch_size=BATCH, queue_size=128, device=s.device,
                out=str(Path(work) / "pretrain"), monitor_every=10 * steps,
                checkpoint_every=10 * steps), data)

        def timed(epochs: int, probes: bool) -> float:
            start = time.perf_counter()
            finetune_seed(FinetuneConfig(data=s.data, n=s.n, width=s.width, epochs=epochs,
                                         lr_step=epochs, batch_sizes=[64], lrs=[LRS[0]],
                                         device=s.device, probes=probes), data, 0)
            return time.perf_counter() - start

        per_epoch = timed(4, probes=False) / 4
        fixed = timed(1, probes=True)                 # loading, test predictions, probes
    finally:
        torch.set_num_threads(threads)
    return result.images_per_s, per_epoch * EPOCHS * len(LRS) + fixed


def estimate(s: CompareSettings, seeds: int, steps: int, pairs_per_s: float,
             finetune_s: float) -> float:
    """Wall seconds of the whole comparison over ``s.workers`` parallel workers."""
    pretrainings = len(methods(s)) - 1
    per_seed = pretrainings * steps * BATCH / pairs_per_s + len(methods(s)) * finetune_s
    return seeds * per_seed / s.workers


def choose(s: CompareSettings, pairs_per_s: float, finetune_s: float, image_size: str | None
           ) -> Plan:
    """Seeds and steps for the budget (see the module docstring)."""
    usable = s.budget_s * SAFETY

    def plan(seeds: int, steps: int) -> Plan:
        return Plan(seeds, steps, image_size, estimate(s, seeds, steps, pairs_per_s, finetune_s),
                    pairs_per_s, finetune_s, s.budget_s)

    if s.steps:
        fits = [k for k in range(MIN_SEEDS, MAX_SEEDS + 1) if plan(k, s.steps).estimate_s <= usable]
        return plan(max(fits) if fits else MIN_SEEDS, s.steps)
    seeds = s.seeds or PREFERRED_SEEDS
    steps = next((t for t in STEP_CHOICES if plan(seeds, t).estimate_s <= usable), None)
    if steps is None and not s.seeds:
        seeds = next((k for k in range(PREFERRED_SEEDS - 1, MIN_SEEDS - 1, -1)
                      if plan(k, MIN_STEPS).estimate_s <= usable), 0)
        steps = MIN_STEPS
    if not seeds or steps is None:
        need = plan(s.seeds or MIN_SEEDS, MIN_STEPS).estimate_s / SAFETY
        raise SynthclError(f"--budget {s.budget_s / 60:.1f}m is too short for "
                           f"{s.seeds or MIN_SEEDS} seeds of {MIN_STEPS} pre-training steps on "
                           f"this machine (about {need / 60:.1f} min needed): give a larger "
                           f"--budget, or a smaller --image-size")
    if not s.seeds and steps == MAX_STEPS:
        while seeds < MAX_SEEDS and plan(seeds + 1, steps).estimate_s <= usable:
            seeds += 1
    return plan(seeds, steps)


def load_or_make_plan(s: CompareSettings, data, out: Path, log) -> Plan:
    """The saved plan of an earlier run of the same comparison, else a new one."""
    path = out / "plan.json"
    key = {k: v for k, v in asdict(s).items() if k not in ("out", "workers", "device")}
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("settings") == key:
            log(f"compare: resuming the plan in {path}")
            return Plan(**saved["plan"])
        raise SynthclError(f"--out {out} holds a comparison with other settings ({path}); "
                           f"choose another --out or repeat its settings")
    image_size = resolve_image_size(s, data)
    if image_size is not None and image_size != s.image_size:
        from synthcl.data import load_dataset

        data = load_dataset(s.data, s.format, image_size, s.allow_pickle)
    if s.seeds and s.steps:                      # nothing to fit: no calibration
        plan = Plan(s.seeds, s.steps, image_size, 0.0, 0.0, 0.0, s.budget_s)
    else:
        log("compare: timing a short pre-training and fine-tuning to fit the budget ...")
        plan = choose(s, *calibrate(s, data), image_size)
    write_text(path, json.dumps({"settings": key, "plan": asdict(plan)}, indent=2) + "\n")
    return plan


def run_compare(s: CompareSettings, log=print) -> tuple[Path, list[str], int]:
    """Plan, run and report the comparison; (report.md, the verdict lines, failed cells)."""
    from synthcl.data import load_dataset
    from synthcl.experiments.cells import expand_cells
    from synthcl.experiments.report import build_report
    from synthcl.experiments.runner import run_cells
    from synthcl.experiments.spec import parse_spec
    from synthcl.experiments.store import ResultStore, load_records

    if s.budget_s <= 0:
        raise SynthclError(f"--budget {s.budget_s}s: give a positive time, e.g. 10m")
    out = Path(s.out)
    fixed_size = None if s.image_size == "auto" else s.image_size
    data = load_dataset(s.data, s.format, fixed_size, s.allow_pickle)
    started = time.perf_counter()
    plan = load_or_make_plan(s, data, out, log)
    estimated = (f"estimated {plan.estimate_s / 60:.1f} min" if plan.estimate_s
                 else "seeds and steps as given")
    log(f"compare: {plan.seeds} paired seeds, {plan.steps} MoCo steps of {BATCH} pairs per "
        f"pre-training ({estimated}; budget {plan.budget_s / 60:.1f} min)")
    store = ResultStore(out / "results.db")
    cells = expand_cells(parse_spec(spec_dict(s, plan), "compare"), "compare",
                         store.results_dir, device=s.device, allow_pickle=s.allow_pickle)
    summary = run_cells(cells, store, workers=s.workers, log=log)
    records = [r for r in load_records(store.path) if r["spec"] == "compare"]
    lines = verdict_lines(s, records, data.num_classes)
    wall = time.perf_counter() - started
    head = ["# synthcl compare", "", f"`synthcl compare --data {s.data}`: {plan.seeds} paired "
            f"seeds, {plan.steps} pre-training steps of {BATCH} pairs, image size "
            f"{plan.image_size or 'native'}, ResNet-18 width {s.width}; wall time "
            f"{wall / 60:.1f} min this run (budget {s.budget_s / 60:.1f} min).", "",
            "## Verdict", ""] + [f"- {line}" for line in lines] + [""]
    body = build_report(records, out, "results.db", previews=True)
    path = out / "report.md"
    write_text(path, "\n".join(head) + "\n" + body.split("\n", 1)[1])
    return path, lines, summary.failed


def verdict_lines(s: CompareSettings, records: list[dict], num_classes: int) -> list[str]:
    """Balanced accuracy per method beside the majority-class and chance baselines, the
    probes, then one verdict line per method against scratch."""
    from synthcl.experiments.group import method_label
    from synthcl.experiments.verdict import BY_NAME, by_seed, summary, verdict_line

    by_method = {m: [r for r in records if r["method"] == m] for m in methods(s)}
    counts = next((r["metrics"]["test_class_counts"] for r in records
                   if r["status"] == "done" and r["metrics"].get("test_class_counts")), None)
    chance = 100.0 / num_classes
    lines = []
    for name in ("balanced_accuracy", "linear", "knn"):
        measure = BY_NAME[name]
        parts = [f"{method_label(m)} {summary(by_seed(rs, measure))}"
                 for m, rs in by_method.items()]
        lines.append(f"{measure.label}: " + ", ".join(parts)
                     + (f" (chance {chance:.1f})" if name != "balanced_accuracy" else ""))
    if counts:
        values = list(counts.values())
        lines[0] += (f" (chance and always answering one class: {chance:.1f}; always the "
                     f"majority class scores accuracy {100 * max(values) / sum(values):.1f})")
    for m in methods(s)[1:]:
        lines.append(verdict_line(method_label(m), method_label("scratch"), by_method[m],
                                  by_method["scratch"]))
    return lines
