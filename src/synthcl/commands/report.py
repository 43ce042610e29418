"""``synthcl report --results DB --out DIR``: report.md (tables like the paper's) and PNG plots."""

from __future__ import annotations

import argparse

HELP = "write report.md (tables like the paper's Tables 2-4) and plots (Figs. 6-8) from results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results", default="results/synthcl.db", metavar="DB",
                        help="results database, as given to synthcl run; cells/*.json beside it "
                             "are merged (default: results/synthcl.db)")
    parser.add_argument("--out", default="results/report", metavar="DIR",
                        help="folder for report.md and the PNGs (default: results/report)")
    parser.add_argument("--print", dest="print_", action="store_true",
                        help="also print report.md")
    parser.add_argument("--no-previews", dest="previews", action="store_false",
                        help="skip the pictures of synthetic images (they read the datasets)")


def run(args: argparse.Namespace) -> int:
    from synthcl.experiments.report import write_report

    path = write_report(args.results, args.out, getattr(args, "previews", True))
    if args.print_:
        print(path.read_text(encoding="utf-8"))
    print(f"report: {path}")
    return 0
