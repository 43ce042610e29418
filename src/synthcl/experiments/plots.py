"""PNG plots like the paper's Figs. 5-8 (matplotlib, headless).

Sweep plots: one panel per dataset (columns) and N (rows); a solid line with the seed standard
deviation as error bars for each method the sweep affects, and dashed horizontal lines for
scratch (the reference) and the strongest other method the sweep does not affect (the paper
dashes ImageNet and feature-vis dead leaves). M and D are drawn on log2 axes.

Previews (Fig. 5): for each generator of a report's ``ours`` / ``cl-aug`` rows (at most three),
one training image per class (at most four) of the dataset as the cells read it, and five images
the generator makes from each, with the cells' D.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from synthcl.experiments import stats

if TYPE_CHECKING:
    from synthcl.experiments.group import Group

DASHED_BASELINES = 2
BASELINE_COLORS = ("black", "gray")      # the swept methods take matplotlib's colour cycle
PREVIEW_GENERATORS = 3
PREVIEW_SOURCES = 4
PREVIEW_COPIES = 5


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_sweep(group: Group, name: str, path: Path) -> bool:
    """Accuracy against the swept value; False (nothing written) when there is nothing to draw."""
    from synthcl.experiments.group import method_label
    from synthcl.utils.atomic import atomic_path

    values = (group.layout.get("sweeps") or {}).get(name, [])
    datasets = list(dict.fromkeys(d for d, _, _ in group.columns))
    ns_by_dataset = {d: [n for dd, n, _ in group.columns if dd == d] for d in datasets}
    rows = max(len(v) for v in ns_by_dataset.values())
    plt = _pyplot()
    fig, axes = plt.subplots(rows, len(datasets), figsize=(4.2 * len(datasets), 3.4 * rows),
                             squeeze=False)
    drawn = False
    for col, dataset in enumerate(datasets):
        for row in range(rows):
            ax = axes[row][col]
            if row >= len(ns_by_dataset[dataset]):
                ax.axis("off")
                continue
            n = ns_by_dataset[dataset][row]
            baselines = []
            for method in group.methods:
                entries = [group.entry(method, dataset, n, {name: v}) for v in values]
                points = [(v, e.accs) for v, e in zip(values, entries, strict=True) if e.accs]
                if points:
                    xs = [v for v, _ in points]
                    ys = [stats.mean(list(a.values())) for _, a in points]
                    errs = [stats.std(list(a.values())) or 0.0 for _, a in points]
                    ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3,
                                label=method_label(method))
                    drawn = True
                else:
                    mean = group.entry(method, dataset, n).mean
                    if mean is not None:
                        baselines.append((mean, method))
            scratch = [b for b in baselines if b[1] == "scratch"]   # the reference, always
            others = sorted((b for b in baselines if b[1] != "scratch"), reverse=True)
            shown = scratch + others[:DASHED_BASELINES - len(scratch)]
            for (mean, method), color in zip(shown, BASELINE_COLORS, strict=False):
                ax.axhline(mean, linestyle="--", linewidth=1.2, color=color,
                           label=f"{method_label(method)} (no {name.upper()})")
            if values:
                ax.set_xscale("log", base=2)
            ax.set_xticks(values)
            ax.set_xticklabels([str(v) for v in values])
            ax.set_title(f"{dataset}, N={n}")
            ax.set_xlabel(name.upper())
            ax.set_ylabel("test accuracy [%]")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    if drawn:
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return drawn


def plot_optimal_d(points: list[dict[str, Any]], path: Path) -> bool:
    """The best D of each dataset / N / method against the image side (sqrt(W x H) pixels)."""
    from synthcl.experiments.group import method_label
    from synthcl.utils.atomic import atomic_path

    points = [p for p in points if p["image_hw"]]
    if not points:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    for method in dict.fromkeys(p["method"] for p in points):
        mine = [p for p in points if p["method"] == method]
        xs = [(p["image_hw"][0] * p["image_hw"][1]) ** 0.5 for p in mine]
        ax.scatter(xs, [p["d"] for p in mine], label=method_label(method), s=40)
        for x, p in zip(xs, mine, strict=True):
            ax.annotate(f"{p['dataset']} N{p['n']}", (x, p["d"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("image side sqrt(W x H) [px]")
    ax.set_ylabel("optimal D")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return True


def save_generator_previews(group: Group, out_dir: Path) -> list[tuple[str, str]]:
    """Fig. 5-style PNGs, one per generator of the group; [(caption, file name)]."""
    import torch

    from synthcl.data import load_dataset
    from synthcl.experiments.cells import dataset_available
    from synthcl.generators import build_generator
    from synthcl.pretraining.methods import uses_d
    from synthcl.preview import save_preview
    from synthcl.utils.seeding import make_generator

    configs: dict[str, dict] = {}
    for record in group.records:
        pre = (record.get("configs") or {}).get("pretrain") or {}
        if pre.get("mode") in ("ours", "cl-aug") and dataset_available(pre["data"]) is None:
            configs.setdefault(pre["generator"], pre)
    pictures = []
    for name, pre in list(configs.items())[:PREVIEW_GENERATORS]:
        if pre.get("allow_pickle"):        # only a typed --allow-pickle may unpickle
            continue
        data = load_dataset(pre["data"], pre["format"], pre["image_size"])
        train = data.splits["train"]
        first = [int(np.flatnonzero(train.labels == c)[0]) for c in range(data.num_classes)
                 if (train.labels == c).any()][:PREVIEW_SOURCES]
        sources = train.subset(np.array(first)).tensor().contiguous()
        generator = build_generator(name, d=pre["d"])
        copies = [generator(sources, make_generator(0, "report-preview", name, k))
                  for k in range(PREVIEW_COPIES)]
        file = f"{group.spec}-{group.scale}-preview-{name.replace(':', '-')}.png"
        detail = f" (D={pre['d']})" if uses_d(name) else ""
        caption = f"{name}{detail} on {data.name}"
        save_preview(sources, torch.stack(copies, dim=1), out_dir / file, title=caption)
        pictures.append((caption, file))
    return pictures
