"""Tables of the sweeps (Figs. 6-8): accuracy against M or D, and the optimal D against image
size."""

from __future__ import annotations

from typing import Any

from synthcl.experiments.group import Footnotes, Group, col_label, method_label
from synthcl.experiments.verdict import markdown_table


def sweep_name(group: Group) -> str | None:
    sweeps = group.layout.get("sweeps") or {}
    return next(iter(sweeps), None)


def sweep_tables(group: Group, notes: Footnotes) -> list[str]:
    name = sweep_name(group)
    values = (group.layout.get("sweeps") or {}).get(name, [])
    lines = []
    for dataset, n, _ in group.columns:
        rows = []
        for method in group.methods:
            swept = [group.entry(method, dataset, n, {name: v}) for v in values]
            if any(e.records for e in swept):
                rows.append([method_label(method)] + [group.cell_text(e, notes) for e in swept]
                            + [""])
            else:
                rows.append([method_label(method)] + [""] * len(values)
                            + [group.cell_text(group.entry(method, dataset, n), notes)])
        lines += [f"**{col_label(dataset, n)}**", ""]
        lines += markdown_table(["Method"] + [f"{name.upper()}={v}" for v in values] + ["no sweep"],
                        rows) + [""]
    return lines


def optimal_d(group: Group) -> list[dict[str, Any]]:
    """Per dataset, N and swept method: the D with the best mean accuracy, and the image size."""
    points = []
    values = (group.layout.get("sweeps") or {}).get("d", [])
    for dataset, n, _ in group.columns:
        for method in group.methods:
            means = {d: group.entry(method, dataset, n, {"d": d}).mean for d in values}
            means = {d: v for d, v in means.items() if v is not None}
            if not means:
                continue
            best = max(means, key=lambda d: means[d])
            shapes = [r["metrics"].get("dataset", {}).get("image_shape") for r in group.records
                      if r["dataset"] == dataset and r["status"] == "done"]
            shape = next((s for s in shapes if s), None)
            points.append({"dataset": dataset, "n": n, "method": method, "d": best,
                           "accuracy": means[best], "means": means,
                           "image_hw": tuple(shape[:2]) if shape else None})
    return points


def optimal_d_table(points: list[dict[str, Any]]) -> list[str]:
    rows = [[col_label(p["dataset"], p["n"]), method_label(p["method"]),
             f"{p['image_hw'][1]}x{p['image_hw'][0]}" if p["image_hw"] else "?", str(p["d"]),
             f"{p['accuracy']:.1f}",
             ", ".join(f"D={d}: {v:.1f}" for d, v in sorted(p["means"].items()))]
            for p in points]
    return markdown_table(["Dataset", "Method", "image W x H", "optimal D", "accuracy",
                   "mean accuracy by D"], rows) if rows else []
