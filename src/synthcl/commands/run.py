"""``synthcl run SPEC``: run an experiment grid (a built-in spec or a YAML file), resumably."""

from __future__ import annotations

import argparse
import shlex

from synthcl.errors import SynthclError

HELP = "run an experiment grid (table2, table3, table4, fig6, fig7, fig8, gpu-lite or a YAML spec)"
DEFAULT_RESULTS = "results/synthcl.db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="built-in spec name or path/to/spec.yaml")
    parser.add_argument("--scale", default=None,
                        help="which settings of the spec: mini (2-core CPU) or paper; gpu-lite "
                             "for the gpu-lite spec (default: mini, or the spec's first scale)")
    parser.add_argument("--dataset", action="append", default=[], metavar="NAME=PATH",
                        help="read dataset NAME of the spec from PATH (repeatable; --data PATH "
                             "is one dataset in the other commands)")
    parser.add_argument("--results", default=DEFAULT_RESULTS, metavar="DB",
                        help=f"SQLite results file; pre-trainings and per-cell files go beside it "
                             f"(default: {DEFAULT_RESULTS})")
    parser.add_argument("--workers", type=int, default=1, metavar="K",
                        help="cells run in parallel processes, each with cores/K threads (GPUs "
                             "shared round-robin); on a 2-core CPU, 2 beats 1 for small networks")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:k] (default: auto)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow unpickling datasets such as WM-811K's LSWMD.pkl (only files "
                             "you trust: unpickling can run code; a spec cannot opt in)")
    parser.add_argument("--imagenet-weights", metavar="FILE",
                        help="torchvision ResNet-18/50 ImageNet state dict for the imagenet row "
                             "(or set SYNTHCL_IMAGENET_WEIGHTS)")
    parser.add_argument("--seeds", type=parse_seeds, default=None, metavar="LIST",
                        help="run these seeds instead of the scale's, e.g. 0-15 or 8,9,10 "
                             "(finished cells of the same seeds are kept: adds seeds to a run)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run the cells of dataset NAME of the spec only (repeatable), e.g. "
                             "to add seeds where the intervals are widest")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list-cells", action="store_true",
                      help="print one 'synthcl run ... --cell ID' command per cell, for a "
                           "scheduler (SLURM arrays, Ray, Kubernetes jobs)")
    mode.add_argument("--cell", metavar="ID",
                      help="run this cell only and write RESULTS_DIR/cells/ID.json")
    mode.add_argument("--dry-run", action="store_true",
                      help="show what would run (cells, pre-trainings, not-run reasons)")


def parse_data_overrides(items: list[str]) -> dict[str, str]:
    overrides = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise SynthclError(f"--dataset {item}: expected NAME=PATH (NAME a dataset of the "
                               f"spec)")
        overrides[name.strip()] = path.strip()
    return overrides


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0-3,8' -> (0, 1, 2, 3, 8), or a usage error naming the bad part."""
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or dash and not (high.isdigit() and int(high) >= int(low)):
            raise argparse.ArgumentTypeError(f"{part!r} is not a seed or a range like 0-7")
        seeds += range(int(low), int(high or low) + 1)
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r} lists a seed twice")
    return tuple(seeds)


def cell_command(args: argparse.Namespace, cell_id: str) -> str:
    words = ["synthcl", "run", args.spec, "--scale", args.scale, "--results", args.results]
    for item in args.dataset:
        words += ["--dataset", item]
    for name in args.only:
        words += ["--only", name]
    if args.device != "auto":
        words += ["--device", args.device]
    if args.imagenet_weights:
        words += ["--imagenet-weights", args.imagenet_weights]
    if args.allow_pickle:
        words += ["--allow-pickle"]
    if args.seeds:
        words += ["--seeds", ",".join(map(str, args.seeds))]
    return shlex.join(words + ["--cell", cell_id])


def run(args: argparse.Namespace, executor=None) -> int:
    import sys

    from synthcl.experiments import runner
    from synthcl.experiments.cells import expand_cells
    from synthcl.experiments.spec import load_spec
    from synthcl.experiments.store import ResultStore

    if args.workers < 1:
        raise SynthclError(f"--workers {args.workers}: give 1 or more")
    spec = load_spec(args.spec)
    args.scale = args.scale or ("mini" if "mini" in spec.scales else next(iter(spec.scales)))
    planning = bool(args.list_cells or args.dry_run)       # never reads a dataset
    store = ResultStore(args.results, readonly=bool(planning or args.cell))
    cells = expand_cells(spec, args.scale, store.results_dir, parse_data_overrides(args.dataset),
                         args.imagenet_weights, args.device, args.allow_pickle,
                         read_data=not planning, seeds=args.seeds, only=tuple(args.only))
    executor = executor or runner.execute_cell
    if args.list_cells:
        for cell in cells:
            if cell.not_run:
                print(f"# not run: {cell.id}: {cell.not_run}", file=sys.stderr)
            else:
                print(cell_command(args, cell.id))
        return 0
    if args.cell:
        match = [c for c in cells if c.id == args.cell]
        if not match:
            raise SynthclError(f"--cell {args.cell}: no such cell in {spec.name} ({args.scale}); "
                               f"list them with --list-cells")
        record = runner.run_single(match[0], store, executor)
        return 0 if record["status"] in ("done", "not_run") else 1
    if args.dry_run:
        groups = runner.plan(cells, store)
        for status, group in groups.items():
            for cell in group:
                extra = f"  ({cell.not_run})" if cell.not_run else ""
                key = f"  pretrain {cell.pretrain_key}" if cell.pretrain_key else ""
                if cell.steps_pending:
                    key = "  pretrain (steps set from the training split when it runs)"
                print(f"{status:8s} {cell.id}{key}{extra}")
        keys = {c.pretrain_key for c in groups["run"]} - {None}
        print(f"{len(cells)} cells: {len(groups['run'])} to run (using {len(keys)} distinct "
              f"pre-trainings), "
              f"{len(groups['done'])} done, {len(groups['reuse'])} reused, "
              f"{len(groups['not_run'])} not run")
        return 0
    print(f"{spec.name} ({args.scale}): {spec.scale(args.scale).description.splitlines()[0]}"
          if spec.scale(args.scale).description else f"{spec.name} ({args.scale})")
    summary = runner.run_cells(cells, store, executor, args.workers)
    print(f"{summary.line()}; results in {store.path} "
          f"(make the report with: synthcl report --results {store.path} --out REPORT_DIR)")
    unread = data_problems(cells)
    if unread:
        raise SynthclError("; ".join(unread))
    return 1 if summary.failed else 0


def data_problems(cells) -> list[str]:
    """One line per dataset whose cells did not run because it is absent or needs a flag."""
    lines = {}
    for cell in cells:
        if cell.not_run and ("does not exist" in cell.not_run or "--allow-pickle" in
                             cell.not_run) and "ImageNet" not in cell.not_run:
            lines.setdefault(cell.dataset, f"dataset {cell.dataset} not run: {cell.not_run}")
    return list(lines.values())
