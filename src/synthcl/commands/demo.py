"""``synthcl demo``: the main job end to end on the embedded elpv images, then the report."""

from __future__ import annotations

import argparse

HELP = ("the main job on embedded data (elpv): synthetic images, pre-training, fine-tuning, "
        "comparison with scratch, report (about 4 minutes on 2 idle CPU cores)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from synthcl.experiments.demo import DemoSettings

    d = DemoSettings()
    parser.add_argument("--out", default=d.out, help=f"output folder (default: {d.out})")
    parser.add_argument("--n", type=int, default=d.n,
                        help=f"labelled images, a multiple of 8 (default: {d.n})")
    parser.add_argument("--seeds", default=",".join(map(str, d.seeds)),
                        help="comma-separated seeds; two or more give a confidence interval "
                             f"(default: {','.join(map(str, d.seeds))})")
    parser.add_argument("--steps", type=int, default=d.steps,
                        help=f"MoCo pre-training steps (default: {d.steps})")
    parser.add_argument("--epochs", type=int, default=d.epochs,
                        help=f"fine-tuning epochs (default: {d.epochs})")
    parser.add_argument("--image-size", default=d.image_size,
                        help=f"resize elpv's 300 px images to this side (default: {d.image_size})")
    parser.add_argument("--width", type=int, default=d.width,
                        help=f"ResNet-18 base width (default: {d.width}; 64 is torchvision's)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size,
                        help=f"pre-training batch (default: {d.batch_size})")
    parser.add_argument("--m", type=int, default=d.m,
                        help=f"synthetic images per source image (default: {d.m})")
    parser.add_argument("--device", default=d.device, help="auto | cpu | cuda (default: auto)")


def run(args: argparse.Namespace) -> int:
    from synthcl.errors import SynthclError
    from synthcl.experiments.demo import DemoSettings, run_demo

    try:
        seeds = tuple(int(s) for s in str(args.seeds).split(",") if s.strip())
    except ValueError as exc:
        raise SynthclError(f"--seeds {args.seeds}: give integers, e.g. 0,1,2") from exc
    settings = DemoSettings(out=args.out, n=args.n, seeds=seeds, image_size=str(args.image_size),
                            width=args.width, steps=args.steps, batch_size=args.batch_size,
                            m=args.m, epochs=args.epochs, device=args.device)
    report, failed = run_demo(settings)
    print(f"demo finished: the report is {report} "
          f"(results database {report.parent / 'results.db'})")
    return 1 if failed else 0
