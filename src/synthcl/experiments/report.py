"""report.md from the results: tables laid out like the paper's Tables 2-4, plots like Figs. 6-8.

For each (spec, scale) in the database (merged with ``cells/*.json``):

- the main table: rows = methods, columns = dataset/N, test accuracy mean ± sample std over seeds
  [%], the best per column in bold (Table 2: excluding ``cl-all``, as the paper does; Table 3: the
  better of CL(f_CL+f_S) and Ours per generator; Table 4: a mixture better than each of its parts
  alone), the paper's number beside ours where the dataset and N match, and cells not run shown
  with their reason;
- the paired difference of every method against ``scratch`` on the same seeds (same N images, same
  halves) with a 95% Student-t confidence interval;
- per-seed test and validation accuracies with the chosen epoch (a validation half of N/2 images
  moves in steps of 200/N points, which the tables state rather than hide);
- the pre-training monitor (kNN probe of pre-trained vs random-init features) and wall times;
- for sweeps (fig6/fig7/fig8) accuracy against M or D and the optimal D against image size, as
  tables and PNG plots;
- a Fig. 5-style picture of each generator's synthetic images (when the dataset is readable).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from synthcl.experiments import paper_numbers, stats, verdict
from synthcl.experiments.group import (
    REFERENCE,
    Entry,
    Footnotes,
    Group,
    accuracy,
    col_label,
    fmt,
    group_records,
    method_label,
    method_order,
    method_sweeps,
    seed_ranges,
    sweep_label,
)
from synthcl.experiments.store import load_records
from synthcl.experiments.sweeps import optimal_d, optimal_d_table, sweep_name, sweep_tables
from synthcl.experiments.verdict import finetuning_gain_table, measure_tables, resolution_table
from synthcl.experiments.verdict import markdown_table as _table
from synthcl.utils.atomic import write_text

# ---------------------------------------------------------------- main tables (Tables 2-4)


def _best(group: Group, column: tuple, methods: list[str]) -> set[str]:
    """Methods to print in bold in one column, by the kind's rule."""
    dataset, n, _ = column
    means = {m: group.entry(m, dataset, n).mean for m in methods}
    means = {m: v for m, v in means.items() if v is not None}
    if group.kind == "table3":
        bold = set()
        for m in means:
            kind, _, gen = m.partition(":")
            other = f"{'ours' if kind == 'cl-aug' else 'cl-aug'}:{gen}"
            if other in means and means[m] > means[other]:
                bold.add(m)
        return bold
    if group.kind == "table4":
        bold = set()
        for m, v in means.items():
            if ":mix:" in m:
                parts = [f"ours:{p}" for p in m.split(":mix:")[1].split("+")]
                if all(p in means and v > means[p] for p in parts):
                    bold.add(m)
        return bold
    candidates = {m: v for m, v in means.items() if m != REFERENCE}
    if not candidates:
        return set()
    top = max(candidates.values())
    return {m for m, v in candidates.items() if v == top}


def _paper_columns(group: Group) -> set[tuple]:
    return {c for c in group.columns
            if any(paper_numbers.paper_value(group.kind, m, c[2], c[1]) is not None
                   for m in group.methods)}


def main_table(group: Group, notes: Footnotes) -> list[str]:
    methods = group.methods
    average = len(group.columns) > 1
    with_paper = _paper_columns(group)
    header = ["Method"]
    for column in group.columns:
        header.append(col_label(column[0], column[1]))
        if column in with_paper:
            header.append("paper")
    if average:
        header.append("Ave.")
    bold = {c: _best(group, c, methods) for c in group.columns}
    rows = []
    for method in methods:
        row = [method_label(method)]
        means = []
        for column in group.columns:
            entry = group.entry(method, column[0], column[1])
            row.append(group.cell_text(entry, notes, method in bold[column]))
            means.append(entry.mean)
            if column in with_paper:
                row.append(fmt(paper_numbers.paper_value(group.kind, method, column[2],
                                                          column[1])))
        if average:
            row.append(fmt(stats.mean(means)) if None not in means else "—")
        rows.append(row)
    for ref in paper_numbers.paper_only_rows(group.kind) if with_paper else []:
        row = [f"*{method_label(ref)} (paper only)*"]
        for column in group.columns:
            row.append("")
            if column in with_paper:
                row.append(fmt(paper_numbers.paper_value(group.kind, ref, column[2],
                                                          column[1])))
        rows.append(row + ([""] if average else []))
    return _table(header, rows)


def per_method_table(group: Group, title: str, cell: Callable[[list[dict]], str | None]
                     ) -> list[str]:
    """One row per method (and swept value), one column per dataset and N: ``cell`` of the
    finished records there (None: "—"); rows with nothing to show are left out."""
    rows = []
    for label, method, key in method_sweeps(group):
        cells = [cell(_done(group, method, d, n, key)) for d, n, _ in group.columns]
        if any(c is not None for c in cells):
            rows.append([label] + [c if c is not None else "—" for c in cells])
    return _table([title] + [col_label(d, n) for d, n, _ in group.columns], rows) if rows \
        else []


def balanced_table(group: Group) -> list[str]:
    """Balanced accuracy (mean of per-class recalls) and the test split's majority share, which
    plain accuracy reaches by predicting one class."""
    def cell(done: list[dict]) -> str | None:
        values = [100 * r["metrics"]["balanced_accuracy"] for r in done
                  if "balanced_accuracy" in r["metrics"]]
        return verdict.summary(dict(enumerate(values))) if values else None

    table = per_method_table(group, "Method", cell)
    majority = []
    for dataset, _n, _ in group.columns:
        counts = next((r["metrics"].get("test_class_counts") for r in group.records
                       if r["dataset"] == dataset and r["status"] == "done"
                       and r["metrics"].get("test_class_counts")), None)
        values = list(counts.values()) if isinstance(counts, dict) else counts
        majority.append(f"{100 * max(values) / sum(values):.1f}" if values else "—")
    return table + ["| " + " | ".join(["*test majority class share*"] + majority) + " |"] \
        if table else []


def paired_table(group: Group, sweep_values: list[dict] | None = None) -> list[str]:
    """Each method minus scratch on the same seeds: mean difference [95% CI] in points."""
    if "scratch" not in group.methods:
        return []
    rows = []
    for method in group.methods:
        if method == "scratch":
            continue
        swept = [sweep for sweep in sweep_values or [] if any(
            group.entry(method, d, n, sweep).records for d, n, _ in group.columns)]
        for sweep in swept or [{}]:           # methods the sweep leaves alone have no value
            row = [method_label(method) + sweep_label(sweep)]
            for dataset, n, _ in group.columns:
                diff = verdict.paired(group.entry(method, dataset, n, sweep).accs,
                                      group.entry("scratch", dataset, n).accs)
                row.append(diff.text() if diff else "—")
            if any(cell != "—" for cell in row[1:]):
                rows.append(row)
    if not rows:
        return []
    header = ["Method − Scratch"] + [col_label(d, n) for d, n, _ in group.columns]
    return _table(header, rows)


def per_seed_tables(group: Group) -> list[str]:
    """Per dataset, a row per seed with a finished cell: each method's test accuracy, validation
    accuracy and chosen epoch."""
    lines = []
    for dataset, n, _ in group.columns:
        entries = [(label, group.entries.get((method, dataset, n, key), Entry()))
                   for label, method, key in method_sweeps(group)]
        entries = [(label, entry) for label, entry in entries if entry.done]
        if not entries:
            continue
        rows = [[f"{seed}"] + [_seed_text(entry.done.get(seed)) for _, entry in entries]
                for seed in group.seeds_of(dataset)
                if any(seed in entry.done for _, entry in entries)]
        lines += [f"**{col_label(dataset, n)}** (validation half: {n // 2} images, so "
                  f"validation accuracy moves in steps of {200 / n:.1f} points)", ""]
        lines += _table(["Seed"] + [label for label, _ in entries], rows) + [""]
    return lines


def _seed_text(record: dict | None) -> str:
    if record is None:
        return "—"
    metrics = record["metrics"]
    text = f"{accuracy(record):.1f}"
    if "val_accuracy" in metrics:
        text += f" (val {100 * metrics['val_accuracy']:.1f}"
        epoch = (metrics.get("chosen") or {}).get("epoch")
        text += f", ep {epoch})" if epoch is not None else ")"
    return text


def monitor_table(group: Group) -> list[str]:
    """kNN probe accuracy of the pre-trained features against random-init ones, mean over seeds."""
    def cell(done: list[dict]) -> str | None:
        probes = [((r["pretrain"] or {}).get("monitor") or {}) for r in done]
        probes = [p for p in probes if "knn_acc" in p and "knn_acc_random" in p]
        if not probes:
            return None
        trained = stats.mean([100 * p["knn_acc"] for p in probes])
        random = stats.mean([100 * p["knn_acc_random"] for p in probes])
        return f"{trained:.1f} vs {random:.1f}"

    return per_method_table(group, "Method (kNN: pre-trained vs random init)", cell)


def pretraining_sizes(group: Group) -> list[str]:
    """The batch, queue and steps each method's pre-training used, and why (fair sizing)."""
    rows = {}
    for r in group.records:
        sizing = (r.get("pretrain") or {}).get("sizing")
        if r["status"] == "done" and sizing:
            rule = ((r.get("configs") or {}).get("pretrain") or {}).get("sizing", "fair")
            rows.setdefault((method_order(group, r["method"]), r["dataset"], r["n"]), [
                method_label(r["method"]), col_label(r["dataset"], r["n"]), rule,
                str(sizing["batch_size"]), str(sizing["queue_size"]), str(sizing["steps"]),
                sizing.get("note") or "as asked"])
    return _section("Pre-training sizes (what each run used, and why)", _table(
        ["Method", "Column", "sizing", "batch", "queue", "steps", "why"],
        [rows[key] for key in sorted(rows)]) if rows else [])


def wall_table(group: Group) -> list[str]:
    def cell(done: list[dict]) -> str | None:
        if not done:
            return None
        pre = [r["pretrain"]["wall_time_s"] for r in done if r.get("pretrain")]
        text = f"ft {_duration(stats.mean([r['metrics'].get('wall_time_s', 0.0) for r in done]))}"
        return f"pre {_duration(stats.mean(pre))} + {text}" if pre else text

    return per_method_table(group, "Method (pre-training + fine-tuning per cell)", cell)


def _done(group: Group, method: str, dataset: str, n: int, sweep_key: str) -> list[dict]:
    return list(group.entries.get((method, dataset, n, sweep_key), Entry()).done.values())


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


# ---------------------------------------------------------------- the document


def _group_header(group: Group) -> list[str]:
    done = [r for r in group.records if r["status"] == "done"]
    counts = defaultdict(int)
    for r in group.records:
        counts[r["status"]] += 1
    lines = [f"## {group.spec} — scale `{group.scale}`", ""]
    if group.layout.get("description"):
        lines += [group.layout["description"], ""]
    if group.layout.get("scale_description"):
        lines += [f"*Scale `{group.scale}`:* {group.layout['scale_description']}", ""]
    started = [r["started_at"] for r in done if r.get("started_at")]
    finished = [r["finished_at"] for r in done if r.get("finished_at")]
    compute = sum(r["wall_time_s"] or 0.0 for r in done)
    status = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items()))
    with_done = sorted({r["seed"] for r in done})
    seeds = group.seeds_text()
    if with_done != group.seeds:
        seeds = f"planned {seeds}, done cells in {seed_ranges(with_done) or 'none'}"
    lines.append(f"Cells: {status} ({seeds}); "
                 f"compute {_duration(compute)} summed over cells"
                 + (f", first start {min(started)}, last finish {max(finished)}"
                    if started and finished else "") + ".")
    versions = sorted({r["code_version"] for r in done if r.get("code_version")})
    if versions:
        lines.append(f"Code: {', '.join(versions)}.")
    return lines + [""]


def render_group(group: Group, out_dir: Path, previews: bool = True) -> list[str]:
    from synthcl.experiments import plots

    notes = Footnotes()
    lines = _group_header(group)
    name = sweep_name(group)
    if name is None:
        lines += ["### Test accuracy [%] (mean ± std over seeds)", ""]
        lines += main_table(group, notes)
        lines += ["", _bold_rule(group), "", _legend(group.methods), ""]
    else:
        lines += [f"### Test accuracy [%] against {name.upper()} (mean ± std over seeds)", ""]
        lines += sweep_tables(group, notes)
        image = f"{group.spec}-{group.scale}-{name}.png"
        if plots.plot_sweep(group, name, out_dir / image):
            lines += [f"![accuracy against {name.upper()}]({image})", ""]
        if group.kind == "fig8" and name == "d":
            points = optimal_d(group)
            lines += ["### Optimal D against image size", ""] + optimal_d_table(points) + [""]
            image = f"{group.spec}-{group.scale}-optimal-d.png"
            if plots.plot_optimal_d(points, out_dir / image):
                lines += [f"![optimal D against image size]({image})", ""]
    if notes.items:
        lines += ["Not run / failed:  "] + notes.render() + [""]
    sweep_values = [{name: v} for v in (group.layout.get("sweeps") or {}).get(name, [])] \
        if name else None
    if name is None:
        lines += _section("Balanced accuracy [%] (mean of per-class accuracies; mean ± std over "
                          "seeds)", balanced_table(group))
    lines += _section("Paired difference against scratch [points]",
                      paired_table(group, sweep_values),
                      "Same seed = same N images and train/validation halves for every method; "
                      "mean difference over seeds [95% Student-t CI]. An interval that contains 0 "
                      "is no evidence of a difference.")
    if name is None:                         # the probes and the seeds needed: no sweep
        columns = [(d, n) for d, n, _ in group.columns]

        def records_of(m: str, d: str, n: int) -> list[dict]:
            return group.entry(m, d, n).records

        for title, table, note in _SEED_MEASURE_SECTIONS:
            lines += _section(title, table(group.methods, columns, records_of, method_label),
                              note)
    lines += pretraining_sizes(group)
    lines += _section("Pre-training monitor: kNN probe accuracy [%] on the N labelled images "
                      "(train half vs validation half), mean over seeds", monitor_table(group))
    lines += _section("Wall time (mean per cell; a pre-training shared by several cells is "
                      "counted in each)", wall_table(group))
    seeds = per_seed_tables(group)
    if seeds:
        lines += ["### Per seed: test accuracy (validation accuracy, chosen epoch) [%]", ""]
        lines += seeds
    pictures = plots.save_generator_previews(group, out_dir) if previews else []
    if pictures:
        lines += ["### Synthetic images (Fig. 5-style: a source image, then images made from it)",
                  ""] + [f"![{caption}]({name})" for caption, name in pictures] + [""]
    return lines


# Sections built from every method's records per column: (title, table builder, note).
_SEED_MEASURE_SECTIONS = (
    ("Frozen-feature probes (balanced accuracy on the whole test split)", measure_tables,
     "Linear and kNN read-outs of the frozen backbone, chosen on the validation half and fitted "
     "on the train half of the N images; scratch = the random backbone of the same seed. They "
     "measure the features with less noise than fine-tuning on N images."),
    ("What fine-tuning adds to the features it starts from [points]", finetuning_gain_table,
     "Fine-tuned balanced accuracy minus the linear probe of the same seed's starting backbone "
     "(scratch: the random one) [95% CI]. A pre-trained start that gains less than scratch's "
     "random start ends closer to scratch than its probe suggests."),
    ("Seeds for a ±3-point interval", resolution_table,
     "Each paired difference against scratch: its 95% half-width now (paired seeds) → the "
     "paired seeds a half-width of 3 points would need if the differences keep the spread seen "
     "so far (add seeds with `synthcl run ... --seeds 0-K`)."),
)


def _section(title: str, table: list[str], note: str = "") -> list[str]:
    """A report section: its title, an explaining paragraph if any, the table and a blank line;
    nothing without a table."""
    if not table:
        return []
    return [f"### {title}", ""] + ([note, ""] if note else []) + table + [""]


def _legend(methods: list[str]) -> str:
    return "Rows: " + ", ".join(f"{method_label(m)} = `{m}`" for m in methods) + "."


def _bold_rule(group: Group) -> str:
    rules = {"table3": "Bold: the better of CL (f_CL+f_S) and Ours for the same f_S.",
             "table4": "Bold: a mixture better than each of its generators alone."}
    text = rules.get(group.kind, "Bold: best per column" + (
        ", excluding CL (w/ all) (the paper's reference row)." if REFERENCE in group.methods
        else "."))
    if _paper_columns(group):
        text += (" 'paper' = the paper's number for the same dataset and N (ResNet-50, 400 "
                 "pre-training epochs, its own seeds): compare orderings, not digits.")
    return text


def build_report(records: list[dict], out_dir: str | os.PathLike, source: str,
                 previews: bool = True) -> str:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    lines = ["# synthcl results", "",
             f"From `{source}` ({len(records)} cell records), written {stamp}. Accuracies are "
             f"test-split accuracies in percent; each seed samples its own N labelled images "
             f"(half train, half validation), and every method sees the same images for the "
             f"same seed.", ""]
    groups = group_records(records)
    if not groups:
        lines.append("No cells recorded yet.")
    for group in groups:
        lines += render_group(group, out_dir, previews)
    return "\n".join(lines).rstrip() + "\n"


def write_report(db_path: str | os.PathLike, out_dir: str | os.PathLike,
                 previews: bool = True) -> Path:
    """Read the database (and ``cells/*.json`` beside it); write ``out_dir/report.md`` + PNGs
    (``previews``: also draw synthetic images of each generator, Fig. 5-style). The report names
    the database by its path relative to the report."""
    records = load_records(db_path)
    path = Path(out_dir) / "report.md"
    source = os.path.relpath(Path(db_path).resolve(), Path(out_dir).resolve())
    write_text(path, build_report(records, out_dir, source, previews))
    return path
