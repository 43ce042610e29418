"""``synthcl compare``: ours against scratch on your own data, paired seeds, within a budget."""

from __future__ import annotations

import argparse
import re

HELP = ("does pre-training on synthetic images made from your N images beat training from "
        "scratch on your data? paired seeds sized to a time budget, one verdict line, report.md")

UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """Seconds of a budget like ``10m``, ``90s``, ``1.5h`` or ``10`` (minutes)."""
    from synthcl.errors import SynthclError

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise SynthclError(f"--budget {text}: give a positive time such as 10m, 90s or 1.5h")
    return float(match.group(1)) * UNITS[match.group(2) or "m"]


def add_arguments(parser: argparse.ArgumentParser, data: str | None = None,
                  out: str = "results/compare", image_size: str = "auto") -> None:
    """The options; ``synthcl demo`` passes its own defaults (``data`` None: required)."""
    from synthcl.experiments.compare import CompareSettings

    d = CompareSettings(data="")
    parser.add_argument("--data", required=data is None, default=data,
                        help="your dataset: a file or folder in a supported format, or 'elpv'"
                             + (f" (default: {data})" if data else ""))
    parser.add_argument("--budget", default="10m",
                        help="wall time to plan for: 10m, 90s, 1.5h (a bare number is minutes; "
                             "default: 10m)")
    parser.add_argument("--out", default=out, help=f"output folder (default: {out})")
    parser.add_argument("--n", type=int, default=d.n,
                        help=f"labelled images, class-balanced, half train, half validation "
                             f"(default: {d.n})")
    parser.add_argument("--format", default=None, help="force the data format")
    parser.add_argument("--image-size", default=image_size,
                        help="S or WxH, or auto: keep sides up to 64 px, resize larger images "
                             f"to 48 px (default: {image_size})")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow reading pickle files (WM-811K LSWMD.pkl; a pickle can run "
                             "code)")
    parser.add_argument("--generator", default=d.generator,
                        help=f"f_S of ours: patchshuffle | randomcrop | gpnn | mix:a+b "
                             f"(default: {d.generator})")
    parser.add_argument("--cl-real", action="store_true",
                        help="also compare MoCo on the N real images (fair sizing)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="number of paired seeds (default: as many as the budget allows)")
    parser.add_argument("--steps", type=int, default=None,
                        help="pre-training steps of 64 pairs (default: the budget's choice)")
    parser.add_argument("--width", type=int, default=d.width,
                        help=f"ResNet-18 base width (default: {d.width}; 64 is torchvision's)")
    parser.add_argument("--workers", type=int, default=d.workers,
                        help=f"cells run at a time (default: {d.workers})")
    parser.add_argument("--device", default=d.device, help="auto | cpu | cuda[:k] (default: auto)")


def settings_of(args: argparse.Namespace):
    from synthcl.errors import SynthclError
    from synthcl.experiments.compare import CompareSettings

    for name in ("n", "seeds", "steps", "width", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SynthclError(f"--{name} {value}: must be at least 1")
    return CompareSettings(
        data=args.data, out=args.out, budget_s=parse_budget(args.budget), n=args.n,
        format=args.format, image_size=args.image_size, allow_pickle=args.allow_pickle,
        generator=args.generator, cl_real=args.cl_real, seeds=args.seeds, steps=args.steps,
        width=args.width, workers=args.workers, device=args.device)


def run(args: argparse.Namespace) -> int:
    from synthcl.experiments.compare import run_compare

    report, lines, failed = run_compare(settings_of(args))
    print("\n".join(lines))
    print(f"report: {report}")
    return 1 if failed else 0
