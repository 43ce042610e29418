"""The measures a report pairs across seeds, and the verdict line of ``synthcl compare``.

Every cell records, per seed, the fine-tuned test accuracy (the paper's number), its balanced
accuracy, and the frozen probes of :mod:`synthcl.finetune.probes` (linear and kNN, balanced
accuracy on the whole test split). A probe of a pre-trained method reads its pre-trained
backbone; ``scratch`` reads the random backbone that every method's record of the same seed
also probes, so "ours - scratch" on a probe is pre-trained features against random ones.

Differences are paired by seed (same N images, same halves) and summarised by the mean and a
95% Student-t interval (:func:`synthcl.experiments.stats.paired_ci`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from synthcl.experiments import stats
from synthcl.experiments.group import col_label


def _probe(kind: str, backbone: str | None = None) -> Callable[[dict], float | None]:
    def read(record: dict) -> float | None:
        probes = (record.get("metrics") or {}).get("probes") or {}
        which = backbone or ("pretrained" if "pretrained" in probes else "random")
        value = (probes.get(which) or {}).get(kind, {}).get("balanced_accuracy")
        return None if value is None else 100.0 * value
    return read


def _metric(key: str) -> Callable[[dict], float | None]:
    def read(record: dict) -> float | None:
        value = (record.get("metrics") or {}).get(key)
        return None if value is None else 100.0 * value
    return read


@dataclass(frozen=True)
class Measure:
    name: str
    label: str                       # how a table or the verdict line names it
    read: Callable[[dict], float | None]


MEASURES = (
    Measure("balanced_accuracy", "Balanced accuracy (fine-tuned)", _metric("balanced_accuracy")),
    Measure("accuracy", "Accuracy (fine-tuned, the paper's metric)", _metric("accuracy")),
    Measure("linear", "Linear probe (balanced accuracy)", _probe("linear")),
    Measure("knn", "kNN probe (balanced accuracy)", _probe("knn")),
)
RANDOM_PROBES = (
    Measure("linear_random", "Linear probe of the random backbone", _probe("linear", "random")),
    Measure("knn_random", "kNN probe of the random backbone", _probe("knn", "random")),
)
BY_NAME = {m.name: m for m in MEASURES + RANDOM_PROBES}


def by_seed(records: list[dict], measure: Measure) -> dict[int, float]:
    """``{seed: value}`` over the finished records that have the measure."""
    values = {}
    for record in records:
        if record.get("status") == "done":
            value = measure.read(record)
            if value is not None:
                values[record["seed"]] = value
    return values


@dataclass(frozen=True)
class Paired:
    """A method minus a baseline on the seeds both have."""

    mean: float
    low: float | None                 # None with a single pair
    high: float | None
    seeds: int
    sd: float | None = None           # sample standard deviation of the differences

    def text(self) -> str:
        if self.low is None:
            return f"{self.mean:+.1f} (1 seed)"
        return f"{self.mean:+.1f} [{self.low:+.1f}, {self.high:+.1f}]"


def paired(method: dict[int, float], base: dict[int, float]) -> Paired | None:
    seeds = sorted(set(method) & set(base))
    diffs = [method[s] - base[s] for s in seeds]
    if not diffs:
        return None
    ci = stats.paired_ci(diffs)
    if ci is None:
        return Paired(diffs[0], None, None, 1)
    return Paired(ci[0], ci[1], ci[2], len(diffs), stats.std(diffs))


def summary(values: dict[int, float]) -> str:
    """``mean ± std`` of the values (``—`` when there are none)."""
    if not values:
        return "—"
    s = stats.std(list(values.values()))
    return f"{stats.mean(list(values.values())):.1f}" + (f" ± {s:.1f}" if s is not None else "")


def verdict_line(method_label: str, base_label: str, method: list[dict], base: list[dict]
                 ) -> str:
    """One sentence: the fine-tuned balanced-accuracy difference and the linear probe's, e.g.
    ``ours - scratch: +4.2 balanced-accuracy points [+1.1, +7.3] over 8 seeds; linear probe
    +6.0 [+4.2, +7.8]``, with what the intervals allow one to conclude."""
    fine = paired(by_seed(method, BY_NAME["balanced_accuracy"]),
                  by_seed(base, BY_NAME["balanced_accuracy"]))
    if fine is None:
        return f"{method_label} - {base_label}: no paired seeds finished"
    interval = "" if fine.low is None else f" [{fine.low:+.1f}, {fine.high:+.1f}]"
    line = (f"{method_label} - {base_label}: {fine.mean:+.1f} balanced-accuracy points"
            f"{interval} over {fine.seeds} seed{'s' if fine.seeds > 1 else ''}")
    for name, label in (("linear", "linear probe"), ("knn", "kNN probe")):
        probe = paired(by_seed(method, BY_NAME[name]), by_seed(base, BY_NAME[name]))
        if probe is not None:
            line += f"; {label} {probe.text()}"
    return line + f" ({conclusion(fine)})"


def conclusion(difference: Paired) -> str:
    """What a 95% interval of a paired difference supports."""
    if difference.low is None:
        return "one seed: no interval"
    if difference.low > 0:
        return "better: the interval excludes 0"
    if difference.high < 0:
        return "worse: the interval excludes 0"
    return "not resolved: the interval contains 0"


RecordsOf = Callable[[str, str, int], list[dict]]


def measure_tables(methods: list[str], columns: list[tuple[str, int]], records_of: RecordsOf,
                   label_of: Callable[[str], str], base: str = "scratch") -> list[str]:
    """Markdown: for each probe, mean ± std per method and column, the random backbone's row,
    and every method minus ``base`` paired by seed [95% CI]; empty when no cell has probes."""
    header = ["Method"] + [col_label(d, n) for d, n in columns]
    lines: list[str] = []
    for name, random_name in (("linear", "linear_random"), ("knn", "knn_random")):
        measure, random = BY_NAME[name], BY_NAME[random_name]
        rows = [[label_of(m)] + [summary(by_seed(records_of(m, d, n), measure))
                                 for d, n in columns] for m in methods]
        rows = [row for row in rows if any(cell != "—" for cell in row[1:])]
        if not rows:
            continue
        rows.append(["*random backbone*"] + [
            summary(by_seed([r for m in methods for r in records_of(m, d, n)], random))
            for d, n in columns])
        lines += _block(lines, f"#### {measure.label} [%] (mean ± std over seeds)",
                        markdown_table(header, rows))
        if base in methods:
            diffs = []
            for m in methods:
                if m == base:
                    continue
                cells = [paired(by_seed(records_of(m, d, n), measure),
                                by_seed(records_of(base, d, n), measure)) for d, n in columns]
                if any(cells):
                    diffs.append(_paired_row(label_of(m), cells))
            if diffs:
                lines += _block(lines, f"#### {measure.label}: method − {label_of(base)} "
                                f"[points, 95% CI]",
                                markdown_table([f"Method − {label_of(base)}"] + header[1:], diffs))
    return lines


def _paired_row(label: str, cells: list[Paired | None]) -> list[str]:
    return [label] + [c.text() if c else "—" for c in cells]


def _block(before: list[str], title: str, table: list[str]) -> list[str]:
    """A titled table, after a blank line when something comes before it."""
    return ([""] if before else []) + [title, ""] + table


def finetuning_gain_table(methods: list[str], columns: list[tuple[str, int]],
                          records_of: RecordsOf, label_of: Callable[[str], str]) -> list[str]:
    """Markdown: per method, the fine-tuned balanced accuracy minus the linear probe of the
    backbone fine-tuning started from (pre-trained, or random for scratch), paired by seed."""
    fine, probe = BY_NAME["balanced_accuracy"], BY_NAME["linear"]
    rows = []
    for method in methods:
        cells = [paired(by_seed(records_of(method, d, n), fine),
                        by_seed(records_of(method, d, n), probe)) for d, n in columns]
        if any(cells):
            rows.append(_paired_row(label_of(method), cells))
    header = ["Fine-tuned − its start's linear probe"] + [col_label(d, n) for d, n in columns]
    return markdown_table(header, rows) if rows else []


def between_table(methods: list[str], columns: list[tuple[str, int]], before: RecordsOf,
                  after: RecordsOf, label_of: Callable[[str], str],
                  measures: tuple[str, ...] = ("balanced_accuracy", "linear")) -> list[str]:
    """Markdown: per method, ``after`` minus ``before`` on each measure, paired by seed: the same
    cells run two ways (e.g. LP-FT against the paper's fine-tuning, or on two machines)."""
    header = ["After − before"] + [f"{col_label(d, n)}, {BY_NAME[m].label}"
                                   for d, n in columns for m in measures]
    rows = []
    for method in methods:
        cells = [paired(by_seed(after(method, d, n), BY_NAME[m]),
                        by_seed(before(method, d, n), BY_NAME[m]))
                 for d, n in columns for m in measures]
        if any(cells):
            rows.append(_paired_row(label_of(method), cells))
    return markdown_table(header, rows) if rows else []


def resolution_table(methods: list[str], columns: list[tuple[str, int]], records_of: RecordsOf,
                     label_of: Callable[[str], str], half_width: float = 3.0,
                     base: str = "scratch") -> list[str]:
    """Markdown: for every method minus ``base``, on the fine-tuned balanced accuracy and the
    linear probe, the 95% half-width now and how many paired seeds a ``half_width`` interval
    would need if the differences kept the spread seen so far (``synthcl run --seeds``)."""
    if base not in methods:
        return []
    measures = {"balanced_accuracy": "fine-tuned (balanced acc.)", "linear": "linear probe"}
    header = [f"Method − {label_of(base)}"] + [
        f"{col_label(d, n)}, {label}" for d, n in columns for label in measures.values()]
    rows = []
    for method in methods:
        if method == base:
            continue
        cells = []
        for dataset, n in columns:
            for name in measures:
                diff = paired(by_seed(records_of(method, dataset, n), BY_NAME[name]),
                              by_seed(records_of(base, dataset, n), BY_NAME[name]))
                if diff is None or diff.sd is None:
                    cells.append("—")
                    continue
                need = stats.pairs_for_half_width(diff.sd, half_width)
                cells.append(f"±{(diff.high - diff.low) / 2:.1f} ({diff.seeds}) → {need}")
        if any(cell != "—" for cell in cells):
            rows.append([label_of(method)] + cells)
    return markdown_table(header, rows) if rows else []


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
