"""``synthcl preview``: a figure like the paper's Fig. 5 (sources and their synthetic images)."""

from __future__ import annotations

import argparse

HELP = "draw source images beside synthetic images made from them (PNG grid like Fig. 5)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from synthcl.commands.generate import add_generator_arguments
    from synthcl.data.cli import add_data_arguments

    add_data_arguments(parser)
    add_generator_arguments(parser)
    parser.add_argument("--rows", type=int, default=4,
                        help="source images (rows), taken class by class from the training "
                             "split (default: 4)")
    parser.add_argument("--m", type=int, default=6,
                        help="synthetic images per source (columns) (default: 6)")
    parser.add_argument("--out", required=True, metavar="FILE.png", help="output PNG file")


def pick_rows(labels, k: int, num_classes: int, seed: int):
    """``k`` indices of distinct images, cycling through the classes in order (seeded)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in range(num_classes)]
    chosen = []
    while len(chosen) < k and any(pools):
        for pool in pools:
            if pool and len(chosen) < k:
                chosen.append(int(pool.pop()))
    return np.array(chosen, dtype=np.int64)


def run(args: argparse.Namespace) -> int:
    import torch

    from synthcl.commands.generate import generator_from_args
    from synthcl.data.cli import load_from_args
    from synthcl.errors import SynthclError
    from synthcl.pretraining.methods import uses_d
    from synthcl.preview import save_preview
    from synthcl.synthetic.sets import synthesize
    from synthcl.utils.devices import resolve_device
    from synthcl.utils.outputs import check_apart

    if args.rows < 1 or args.m < 1:
        raise SynthclError(f"--rows {args.rows} and --m {args.m} must both be at least 1")
    if not args.out.lower().endswith(".png"):
        raise SynthclError(f"--out {args.out}: the preview is a PNG file; name it *.png")
    check_apart(args.out, [args.data])
    generator = generator_from_args(args)
    device = resolve_device(args.device)
    data = load_from_args(args)
    train = data.splits["train"]
    rows = pick_rows(train.labels, args.rows, data.num_classes, args.seed)
    sources = train.subset(rows).tensor().contiguous()
    generator.check_size(*sources.shape[2:])
    k = len(rows)
    source_index = torch.arange(k).repeat_interleave(args.m)
    copy = torch.arange(args.m).repeat(k)
    synthetic = synthesize(sources, generator, args.seed, source_index, copy, device).cpu()
    d = f", D={args.d}" if uses_d(args.generator) else ""
    title = f"{data.name}: {generator.name}{d} (seed {args.seed})"
    save_preview(sources, synthetic.view(k, args.m, *sources.shape[1:]), args.out, title)
    print(f"wrote {args.out}: {k} source images x {args.m} synthetic images ({generator.name})")
    return 0
