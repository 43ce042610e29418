"""``synthcl generate``: write a synthetic set as PNG files plus a manifest.

N class-balanced source images are sampled from the training split (both the training and the
validation half, as pre-training uses them) with the seed; each gets M synthetic images. The
output folder holds ``images/s<source>_c<copy>.png`` and ``manifest.csv`` (file, source index in
the training split, its label, its class (column ``class``, so the manifest loads back as a
dataset), copy index, generator, its parameters as JSON, seed).
It is written into a temporary folder beside ``--out`` and renamed at the end, so ``--out`` is
either absent or complete; ``--overwrite`` replaces only an earlier synthcl output (see
``synthcl.utils.outputs``).
"""

from __future__ import annotations

import argparse

HELP = "write M synthetic images per source image (PNG files + manifest.csv)"


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """--generator/--d/--option/--seed/--device, shared with ``synthcl preview``."""
    group = parser.add_argument_group("generator")
    group.add_argument("--generator", default="randomcrop", metavar="NAME",
                       help="patchshuffle | randomcrop | gpnn | mix:A+B (e.g. mix:randomcrop+gpnn)"
                            " (default: randomcrop)")
    group.add_argument("--d", type=int, default=4,
                       help="divisions per side of patchshuffle/randomcrop (default: 4)")
    group.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="generator option, e.g. --option noise_std=0.5 or "
                            "--option weights=[1,3] for a mix (repeatable)")
    group.add_argument("--seed", type=int, default=0, help="seed of the sample and the images "
                                                           "(default: 0)")
    group.add_argument("--device", default="auto", help="auto | cpu | cuda[:k] (default: auto)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from synthcl.data.cli import add_data_arguments

    add_data_arguments(parser)
    add_generator_arguments(parser)
    parser.add_argument("--n", type=int, required=True,
                        help="source images, class-balanced from the training split")
    parser.add_argument("--m", type=int, required=True, help="synthetic images per source")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out if it is an earlier synthcl output")
    parser.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="cache of costly generators (default: $SYNTHCL_CACHE or "
                             "~/.cache/synthcl)")


def generator_from_args(args: argparse.Namespace):
    from synthcl.generators import build_generator, parse_options

    return build_generator(args.generator, d=args.d, **parse_options(args.option))


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import numpy as np

    from synthcl.data import sample_balanced
    from synthcl.data.cli import load_from_args
    from synthcl.errors import SynthclError
    from synthcl.synthetic.sets import SyntheticSet
    from synthcl.utils.devices import resolve_device
    from synthcl.utils.outputs import check_out, replace_with, write_marker

    check_out(args.out, [args.data, args.cache_dir], args.overwrite)
    out = Path(os.path.abspath(args.out))
    if args.m < 1:
        raise SynthclError(f"--m {args.m}: give at least 1 synthetic image per source")
    generator = generator_from_args(args)
    device = resolve_device(args.device)
    data = load_from_args(args)
    sample = sample_balanced(data.splits["train"], args.n, args.seed, data.class_names)
    indices = np.concatenate([sample.train_indices, sample.val_indices])
    sources = sample.all
    images = SyntheticSet(sources.tensor().contiguous(), generator, args.m, args.seed,
                          cache_dir=args.cache_dir, device=device)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_marker(tmp, "generate")
        _write(images, sources.labels, indices, data.class_names, args.seed, tmp, device)
        replace_with(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"wrote {len(images)} synthetic images ({args.n} sources x {args.m}, "
          f"{generator.name} {json.dumps(generator.params())}) to {out}")
    return 0


def _write(images, labels, indices, class_names, seed, folder, device) -> None:
    """PNG files and manifest.csv of the synthetic set ``images`` into ``folder``."""
    import csv
    import json

    import torch
    from PIL import Image

    from synthcl.utils.progress import progress

    generator = images.generator
    (folder / "images").mkdir()
    params = json.dumps(generator.params(), sort_keys=True)
    rows = []
    with progress(total=len(images), desc="writing PNG files", unit="image") as bar:
        for start in range(0, len(images), 256):
            index = torch.arange(start, min(start + 256, len(images)))
            batch = images.batch(index, device).cpu().permute(0, 2, 3, 1).numpy()
            for k, pixels in zip(index.tolist(), batch, strict=True):
                i, copy = divmod(k, images.m)
                name = f"images/s{i:05d}_c{copy:05d}.png"
                Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(
                    folder / name)
                label = int(labels[i])
                rows.append([name, int(indices[i]), label, class_names[label], copy,
                             generator.name, params, seed])
            bar.update(len(index))
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "source_index", "source_label", "class", "copy",
                         "generator", "params", "seed"])
        writer.writerows(rows)
