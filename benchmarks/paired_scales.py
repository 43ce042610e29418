"""The same experiment cells run two ways, paired by seed: AFTER minus BEFORE for every method
and dataset both hold (e.g. LP-FT, scale ``evidence-lpft``, against the paper's fine-tuning,
scale ``evidence``, on the same pre-trainings).

    python benchmarks/paired_scales.py docs/evidence/evidence.db:evidence \\
        docs/evidence/lpft.db:evidence-lpft [--measures balanced_accuracy,accuracy]

Each argument is a results database, optionally followed by ``:SCALE`` to keep one scale of it.
Prints a markdown table of mean differences with 95% Student-t intervals (points).
"""

from __future__ import annotations

import argparse

from synthcl.experiments import store, verdict
from synthcl.pretraining.methods import row_label


def records_of(argument: str) -> tuple[verdict.RecordsOf, set[tuple[str, str, int]]]:
    """The records of ``DB[:SCALE]`` by (method, dataset, n), and the keys present."""
    path, _, scale = argument.partition(":")
    records = [r for r in store.load_records(path) if not scale or r["scale"] == scale]
    if not records:
        raise SystemExit(f"{argument}: no cell records" + (f" of scale {scale}" if scale else ""))

    def of(method: str, dataset: str, n: int) -> list[dict]:
        return [r for r in records
                if (r["method"], r["dataset"], r["n"]) == (method, dataset, n)]
    return of, {(r["method"], r["dataset"], r["n"]) for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="DB[:SCALE]")
    parser.add_argument("after", help="DB[:SCALE]")
    parser.add_argument("--measures", default="balanced_accuracy,accuracy",
                        help=f"comma-separated, of: {', '.join(verdict.BY_NAME)}")
    args = parser.parse_args()
    measures = tuple(args.measures.split(","))
    unknown = [m for m in measures if m not in verdict.BY_NAME]
    if unknown:
        raise SystemExit(f"--measures {unknown[0]}: not one of {', '.join(verdict.BY_NAME)}")
    (before, before_keys), (after, after_keys) = records_of(args.before), records_of(args.after)
    shared = before_keys & after_keys
    methods = sorted({m for m, _, _ in shared}, key=lambda m: (m != "scratch", m))
    columns = sorted({(d, n) for _, d, n in shared})
    table = verdict.between_table(methods, columns, before, after, row_label, measures)
    print("\n".join(table) if table else "no method and dataset has finished cells in both")


if __name__ == "__main__":
    main()
