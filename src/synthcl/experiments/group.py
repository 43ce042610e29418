"""The records of one spec at one scale, indexed for tables and plots, and how methods and
columns are labelled (shared by :mod:`report`, :mod:`sweeps` and :mod:`plots`)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from synthcl.experiments import paper_numbers, stats
from synthcl.pretraining.methods import row_label

REFERENCE = "cl-all"   # the paper's reference row, excluded from "best"


def method_label(method: str) -> str:
    """The table row of a method (its declared label) or of a paper-only reference row."""
    return paper_numbers.PAPER_ROW_LABELS.get(method) or row_label(method)


def accuracy(record: dict) -> float:
    return 100.0 * float(record["metrics"]["accuracy"])


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


@dataclass
class Entry:
    """The records of one table cell (one method, column and swept value) over seeds."""

    records: list[dict] = field(default_factory=list)

    @property
    def done(self) -> dict[int, dict]:
        return {r["seed"]: r for r in self.records if r["status"] == "done"}

    @property
    def accs(self) -> dict[int, float]:
        return {s: accuracy(r) for s, r in self.done.items()}

    @property
    def mean(self) -> float | None:
        values = list(self.accs.values())
        return stats.mean(values) if values else None

    @property
    def reasons(self) -> list[str]:
        return sorted({f"{r['status'].replace('_', ' ')}: {r['reason']}" for r in self.records
                       if r["status"] != "done"})


class Footnotes:
    def __init__(self) -> None:
        self.items: list[str] = []

    def mark(self, reason: str) -> str:
        if reason not in self.items:
            self.items.append(reason)
        return f"[{self.items.index(reason) + 1}]"

    def render(self) -> list[str]:
        return [f"[{i}] {text}  " for i, text in enumerate(self.items, 1)]


class Group:
    """The records of one spec at one scale, indexed for the tables."""

    def __init__(self, spec: str, scale: str, records: list[dict]):
        self.spec, self.scale, self.records = spec, scale, records
        self.layout = records[-1]["layout"] or {}
        self.kind = self.layout.get("kind", records[-1]["kind"])
        planned: dict[str, set[int]] = defaultdict(set)    # runs may add seeds, --only to one
        for r in records:
            planned[r["dataset"]].update((r["layout"] or {}).get("seeds") or [r["seed"]])
        self.planned = {dataset: sorted(seeds) for dataset, seeds in planned.items()}
        self.seeds = sorted(set().union(*planned.values()))
        self.methods = self.layout.get("methods") or sorted({r["method"] for r in records})
        self.columns = [(d["name"], n, d.get("paper")) for d in self.layout.get("datasets", [])
                        for n in d["ns"]]
        if not self.columns:
            self.columns = sorted({(r["dataset"], r["n"], r["paper_dataset"]) for r in records})
        self.entries: dict[tuple, Entry] = defaultdict(Entry)
        for r in records:
            self.entries[(r["method"], r["dataset"], r["n"], sweep_key(r["sweep"]))].records \
                .append(r)

    def entry(self, method: str, dataset: str, n: int, sweep: dict | None = None) -> Entry:
        return self.entries.get((method, dataset, n, sweep_key(sweep or {})), Entry())

    def seeds_of(self, dataset: str) -> list[int]:
        """The seeds planned for a dataset's cells."""
        return self.planned.get(dataset, self.seeds)

    def seeds_text(self) -> str:
        """``seeds 0-7``, or per dataset (``seeds 0-19 (pcam), 0-39 (xray)``) where they differ."""
        per_dataset = {dataset: seed_ranges(seeds) for dataset, seeds in self.planned.items()}
        if len(set(per_dataset.values())) > 1:
            return "seeds " + ", ".join(f"{text} ({name})" for name, text in per_dataset.items())
        return f"seeds {seed_ranges(self.seeds)}"

    def cell_text(self, entry: Entry, notes: Footnotes, bold: bool = False) -> str:
        accs = list(entry.accs.values())
        if not accs:
            if not entry.reasons:
                return "—"
            return entry.reasons[0].split(":")[0] + " " + " ".join(
                notes.mark(r) for r in entry.reasons)
        s = stats.std(accs)
        text = f"{stats.mean(accs):.1f}" + (f" ± {s:.1f}" if s is not None else "")
        if bold:
            text = f"**{text}**"
        planned = self.seeds_of(entry.records[0]["dataset"])
        if len(accs) < len(planned):
            text += f" ({len(accs)}/{len(planned)} seeds)"
        for reason in entry.reasons:
            text += " " + notes.mark(reason)
        return text


def seed_ranges(seeds: list[int]) -> str:
    """``[0, 1, 2, 3, 8]`` -> ``"0-3, 8"``."""
    runs: list[list[int]] = []
    for seed in seeds:
        if runs and seed == runs[-1][1] + 1:
            runs[-1][1] = seed
        else:
            runs.append([seed, seed])
    return ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in runs)


def sweep_key(sweep: dict) -> str:
    return json.dumps(sweep or {}, sort_keys=True)


def sweep_label(sweep: dict) -> str:
    return "".join(f", {k.upper()}={v}" for k, v in sweep.items())


def method_sweeps(group: Group) -> list[tuple[str, str, str]]:
    """(row label, method, sweep key) for every method and swept value holding records, methods
    in the spec's order and swept values ascending."""
    keys = {(method, key) for method, _, _, key in group.entries}
    ordered = sorted(keys, key=lambda mk: (method_order(group, mk[0]),
                                           tuple(json.loads(mk[1]).values())))
    return [(method_label(m) + sweep_label(json.loads(k)), m, k) for m, k in ordered]


def col_label(dataset: str, n: int) -> str:
    return f"{dataset} N{n}"


def method_order(group: Group, method: str) -> int:
    return group.methods.index(method) if method in group.methods else len(group.methods)


def group_records(records: list[dict]) -> list[Group]:
    by_key: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        by_key[(r["spec"], r["scale"])].append(r)
    return [Group(spec, scale, rs) for (spec, scale), rs in sorted(by_key.items())]
